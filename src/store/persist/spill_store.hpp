#pragma once
// Where evicted objects go with `--spill DIR`: an LMDB environment keyed by
// object id. A get of a spilled object asks the server, which moves it back
// into the arena. Spill extends the store's capacity, it does not persist
// it: the environment is emptied when a store starts.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include <shmkit/store/object_id.hpp>

#include "store/persist/lmdb_env.hpp"
#include "store/persist/object_record.hpp"

namespace shmkit::detail {

class SpillStore {
 public:
  // @throws Error (directory unusable)
  explicit SpillStore(const std::string& dir);

  void put(const ObjectRecord& record);
  // The sizes and provenance of a spilled object (spans empty but sized
  // through `data_size`/`metadata_size`), or nullopt if it is not spilled.
  struct Spilled {
    std::uint64_t data_size;
    std::uint64_t metadata_size;
    pid_t creator_pid;
    std::int64_t created_unix_ns;
  };
  [[nodiscard]] std::optional<Spilled> find(const ObjectId& id) const;
  // Copies a spilled object's data and metadata out (sizes as `find` gave).
  // Restoring is find, allocate, copy_out, erase: no LMDB transaction stays
  // open while the allocation spills other objects.
  void copy_out(const ObjectId& id, std::byte* data, std::byte* metadata) const;
  // Deletes a spilled object; false if `id` is not spilled.
  bool erase(const ObjectId& id);

  [[nodiscard]] std::uint64_t objects() const noexcept { return objects_; }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] const std::string& dir() const noexcept { return env_.dir(); }

 private:
  LmdbEnv env_;
  std::uint64_t objects_ = 0;
  std::uint64_t bytes_ = 0;  // data + metadata of the spilled objects
};

}  // namespace shmkit::detail
