#include "store/persist/lmdb_env.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include <shmkit/core/error.hpp>

namespace shmkit::detail {

namespace {

// Virtual address space only: LMDB's file grows with what is written.
constexpr std::size_t kInitialMapSize = std::size_t{1} << 30;

// Thrown inside a write transaction when the map is full, so `write` can
// grow it and run the transaction again.
struct MapFull {};

MDB_val as_val(std::string_view text) noexcept {
  return MDB_val{text.size(), const_cast<char*>(text.data())};
}

}  // namespace

LmdbEnv::LmdbEnv(std::string dir, bool sync, std::string what) : dir_(std::move(dir)), what_(std::move(what)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    throw Error("cannot create the " + what_ + " directory '" + dir_ + "': " + ec.message() +
                "; choose a writable directory");
  }
  ::chmod(dir_.c_str(), 0700);
  check(mdb_env_create(&env_), "mdb_env_create");
  map_size_ = kInitialMapSize;
  unsigned flags = MDB_NOTLS;
  if (!sync) {
    flags |= MDB_NOSYNC;
  }
  int rc = mdb_env_set_mapsize(env_, map_size_);
  if (rc == MDB_SUCCESS) {
    rc = mdb_env_open(env_, dir_.c_str(), flags, 0600);
  }
  if (rc != MDB_SUCCESS) {
    mdb_env_close(env_);
    env_ = nullptr;
    fail("open", rc);
  }
  // A database written earlier may be larger than the initial map.
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  map_size_ = info.me_mapsize;
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env_, nullptr, 0, &txn), "begin");
  rc = mdb_dbi_open(txn, nullptr, 0, &dbi_);
  if (rc != MDB_SUCCESS) {
    mdb_txn_abort(txn);
    fail("open the database", rc);
  }
  check(mdb_txn_commit(txn), "commit");
}

LmdbEnv::~LmdbEnv() {
  if (env_ != nullptr) {
    mdb_env_close(env_);
  }
}

void LmdbEnv::fail(const std::string& operation, int rc) const {
  std::string hint;
  if (rc == ENOSPC) {
    hint = "; free disk space";
  } else if (rc == EACCES || rc == EROFS) {
    hint = "; choose a writable directory";
  } else if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
    hint = "; the directory holds something that is not a shmkit LMDB environment";
  }
  throw Error("cannot " + operation + " the " + what_ + " in '" + dir_ + "' (LMDB): " + mdb_strerror(rc) + hint,
              rc > 0 ? std::error_code(rc, std::generic_category()) : std::error_code{});
}

void LmdbEnv::check(int rc, const char* operation) const {
  if (rc != MDB_SUCCESS) {
    fail(operation, rc);
  }
}

void LmdbEnv::write(const std::function<void(MDB_txn*)>& body) {
  for (;;) {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, 0, &txn), "begin a write transaction in");
    int rc = MDB_SUCCESS;
    try {
      body(txn);
      rc = mdb_txn_commit(txn);
    } catch (const MapFull&) {
      mdb_txn_abort(txn);
      rc = MDB_MAP_FULL;
    } catch (...) {
      mdb_txn_abort(txn);
      throw;
    }
    if (rc == MDB_MAP_FULL) {
      // No transaction is open now, which is when LMDB lets the map grow.
      map_size_ *= 2;
      check(mdb_env_set_mapsize(env_, map_size_), "grow");
      continue;
    }
    check(rc, "commit to");
    return;
  }
}

void LmdbEnv::put(std::string_view key, std::size_t size, const std::function<void(std::byte*)>& fill) {
  write([&](MDB_txn* txn) {
    MDB_val k = as_val(key);
    MDB_val v{size, nullptr};
    const int rc = mdb_put(txn, dbi_, &k, &v, MDB_RESERVE);
    if (rc == MDB_MAP_FULL) {
      throw MapFull{};
    }
    check(rc, "write to");
    fill(static_cast<std::byte*>(v.mv_data));
  });
}

bool LmdbEnv::erase(std::string_view key) {
  bool found = true;
  write([&](MDB_txn* txn) {
    MDB_val k = as_val(key);
    const int rc = mdb_del(txn, dbi_, &k, nullptr);
    if (rc == MDB_NOTFOUND) {
      found = false;
      return;
    }
    if (rc == MDB_MAP_FULL) {
      throw MapFull{};
    }
    check(rc, "delete from");
  });
  return found;
}

std::size_t LmdbEnv::erase_prefix(std::string_view prefix) {
  std::size_t erased = 0;
  write([&](MDB_txn* txn) {
    erased = 0;
    MDB_cursor* cursor = nullptr;
    check(mdb_cursor_open(txn, dbi_, &cursor), "open a cursor in");
    int rc = MDB_SUCCESS;
    // Seeking again after each delete is simpler to get right than LMDB's
    // cursor position rules after mdb_cursor_del, and namespaces are small.
    for (;;) {
      MDB_val k = as_val(prefix);
      MDB_val v{};
      rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
      if (rc != MDB_SUCCESS || !std::string_view(static_cast<const char*>(k.mv_data), k.mv_size).starts_with(prefix)) {
        break;
      }
      rc = mdb_cursor_del(cursor, 0);
      if (rc != MDB_SUCCESS) {
        break;
      }
      ++erased;
    }
    mdb_cursor_close(cursor);
    if (rc == MDB_MAP_FULL) {
      throw MapFull{};
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
      fail("delete from", rc);
    }
  });
  return erased;
}

bool LmdbEnv::read(std::string_view key, const std::function<void(std::span<const std::byte>)>& f) const {
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "begin a read transaction in");
  MDB_val k = as_val(key);
  MDB_val v{};
  const int rc = mdb_get(txn, dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return false;
  }
  if (rc != MDB_SUCCESS) {
    mdb_txn_abort(txn);
    fail("read from", rc);
  }
  try {
    f({static_cast<const std::byte*>(v.mv_data), v.mv_size});
  } catch (...) {
    mdb_txn_abort(txn);
    throw;
  }
  mdb_txn_abort(txn);
  return true;
}

void LmdbEnv::for_each(const std::function<void(std::string_view, std::span<const std::byte>)>& f) const {
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "begin a read transaction in");
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, dbi_, &cursor);
  if (rc != MDB_SUCCESS) {
    mdb_txn_abort(txn);
    fail("open a cursor in", rc);
  }
  MDB_val k{};
  MDB_val v{};
  try {
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      f({static_cast<const char*>(k.mv_data), k.mv_size}, {static_cast<const std::byte*>(v.mv_data), v.mv_size});
    }
  } catch (...) {
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    throw;
  }
  mdb_cursor_close(cursor);
  mdb_txn_abort(txn);
  if (rc != MDB_NOTFOUND) {
    fail("read from", rc);
  }
}

void LmdbEnv::clear() {
  write([&](MDB_txn* txn) { check(mdb_drop(txn, dbi_, 0), "clear"); });
}

void LmdbEnv::sync() {
  check(mdb_env_sync(env_, 1), "sync");
}

}  // namespace shmkit::detail
