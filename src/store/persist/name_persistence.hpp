#pragma once
// Persistence of named objects (`--persist DIR`): every binding of a name
// is written to an LMDB environment, key "<namespace>\0<name>", value the
// object's record, and committed before the server acknowledges it. A
// restarted store loads them all back. The directory is locked (flock), so
// two stores never share one.
//
// Durability: a commit has reached the OS when the server replies, so it
// survives the store (or its host) being killed; with `sync` it has also
// reached the disk, so it survives a power loss. Without `sync` an OS crash
// can lose the last changes, never the database's consistency.

#include <functional>
#include <string>
#include <string_view>

#include "store/persist/lmdb_env.hpp"
#include "store/persist/object_record.hpp"

namespace shmkit::detail {

class NamePersistence {
 public:
  // @throws Error (directory unusable, or locked by another store)
  NamePersistence(const std::string& dir, bool sync);
  NamePersistence(const NamePersistence&) = delete;
  NamePersistence& operator=(const NamePersistence&) = delete;
  ~NamePersistence();

  void save(std::string_view ns, std::string_view name, const ObjectRecord& record);
  void erase(std::string_view ns, std::string_view name);
  void erase_namespace(std::string_view ns);
  // Calls `f(ns, name, record)` for every stored binding.
  // @throws CorruptDataError naming the entry that is not a record
  void load(const std::function<void(const std::string&, const std::string&, const ObjectRecord&)>& f) const;

  [[nodiscard]] const std::string& dir() const noexcept { return env_.dir(); }

  // The LMDB key of a binding.
  [[nodiscard]] static std::string key(std::string_view ns, std::string_view name);

 private:
  int lock_fd_ = -1;
  LmdbEnv env_;
};

// Writes every binding `for_each_binding` reports into a new environment in
// `dir` (which must not hold one yet) and syncs it: a snapshot that
// `--persist dir` loads like a persistence directory.
// @throws ExistsError (dir holds a database already), Error
void write_snapshot(
    const std::string& dir,
    const std::function<void(const std::function<void(const std::string&, const std::string&, const ObjectRecord&)>&)>&
        for_each_binding);

}  // namespace shmkit::detail
