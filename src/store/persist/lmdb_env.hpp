#pragma once
// A small RAII layer over one LMDB environment with one unnamed database,
// as the store's persistence and spill use it: single-threaded (the server
// thread), one write transaction per change, the map grown on demand.
// Every failure is an Error naming the environment's directory.

#include <lmdb.h>

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace shmkit::detail {

class LmdbEnv {
 public:
  // Opens (creating it 0700 if missing) the environment in `dir`.
  // `sync` false: commits reach the OS but are not fsynced (MDB_NOSYNC),
  // which survives the process being killed but not the machine crashing.
  // `what` names the environment in messages ("store persistence").
  // @throws Error
  LmdbEnv(std::string dir, bool sync, std::string what);
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;
  ~LmdbEnv();

  // Stores `size` bytes under `key`, written by `fill` straight into the
  // database page (MDB_RESERVE: no intermediate copy), and commits.
  void put(std::string_view key, std::size_t size, const std::function<void(std::byte*)>& fill);
  // Deletes `key`; returns false if it was absent.
  bool erase(std::string_view key);
  // Deletes every key starting with `prefix` in one transaction; returns how many.
  std::size_t erase_prefix(std::string_view prefix);
  // Calls `f` with the value of `key` (valid only during the call); false if absent.
  bool read(std::string_view key, const std::function<void(std::span<const std::byte>)>& f) const;
  // Calls `f(key, value)` for every entry in key order.
  void for_each(const std::function<void(std::string_view, std::span<const std::byte>)>& f) const;
  // Deletes every entry.
  void clear();
  // Flushes everything committed so far to disk.
  void sync();

  [[nodiscard]] const std::string& dir() const noexcept { return dir_; }

 private:
  [[noreturn]] void fail(const std::string& operation, int rc) const;
  void check(int rc, const char* operation) const;
  // Runs `body` in a write transaction and commits, doubling the map and
  // retrying when it is full.
  void write(const std::function<void(MDB_txn*)>& body);

  std::string dir_;
  std::string what_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  std::size_t map_size_ = 0;
};

}  // namespace shmkit::detail
