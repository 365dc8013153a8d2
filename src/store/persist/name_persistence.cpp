#include "store/persist/name_persistence.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include <shmkit/core/error.hpp>

namespace shmkit::detail {

namespace {

// Locks `dir` for this store, creating it (0700) if needed.
int take_lock(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw Error("cannot create the store persistence directory '" + dir + "': " + ec.message() +
                "; choose a writable directory");
  }
  const std::string path = dir + "/shmkit-store.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw_system_error("cannot open the lock file '" + path + "' of the store persistence", errno);
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      throw ExistsError("store persistence directory '" + dir +
                        "' is in use by another running store; give each store its own --persist directory");
    }
    throw_system_error("cannot lock the store persistence directory '" + dir + "'", err);
  }
  return fd;
}

}  // namespace

NamePersistence::NamePersistence(const std::string& dir, bool sync)
    : lock_fd_(take_lock(dir)), env_([&] {
        try {
          return LmdbEnv(dir, sync, "store persistence");
        } catch (...) {
          ::close(lock_fd_);
          throw;
        }
      }()) {}

NamePersistence::~NamePersistence() {
  ::close(lock_fd_);
}

std::string NamePersistence::key(std::string_view ns, std::string_view name) {
  // Names cannot hold a NUL, so the key is unambiguous and every key of a
  // namespace starts with "<ns>\0".
  std::string k;
  k.reserve(ns.size() + 1 + name.size());
  k.append(ns).push_back('\0');
  k.append(name);
  return k;
}

void NamePersistence::save(std::string_view ns, std::string_view name, const ObjectRecord& record) {
  env_.put(key(ns, name), record.encoded_size(), [&](std::byte* out) { record.encode(out); });
}

void NamePersistence::erase(std::string_view ns, std::string_view name) {
  env_.erase(key(ns, name));
}

void NamePersistence::erase_namespace(std::string_view ns) {
  std::string prefix(ns);
  prefix.push_back('\0');
  env_.erase_prefix(prefix);
}

void NamePersistence::load(
    const std::function<void(const std::string&, const std::string&, const ObjectRecord&)>& f) const {
  env_.for_each([&](std::string_view k, std::span<const std::byte> value) {
    const auto split = k.find('\0');
    const auto record = ObjectRecord::decode(value);
    if (split == std::string_view::npos || !record) {
      throw CorruptDataError("store persistence '" + env_.dir() + "' holds an entry that is not a named object (key " +
                             std::to_string(k.size()) + " bytes); restore the directory from a snapshot");
    }
    f(std::string(k.substr(0, split)), std::string(k.substr(split + 1)), *record);
  });
}

void write_snapshot(
    const std::string& dir,
    const std::function<void(const std::function<void(const std::string&, const std::string&, const ObjectRecord&)>&)>&
        for_each_binding) {
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::path(dir) / "data.mdb", ec)) {
    throw ExistsError("snapshot directory '" + dir + "' holds a database already; choose a new directory");
  }
  // Commits are not synced one by one; the sync at the end covers them all.
  LmdbEnv env(dir, false, "store snapshot");
  for_each_binding([&](const std::string& ns, const std::string& name, const ObjectRecord& record) {
    env.put(NamePersistence::key(ns, name), record.encoded_size(), [&](std::byte* out) { record.encode(out); });
  });
  env.sync();
}

}  // namespace shmkit::detail
