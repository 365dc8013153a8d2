#pragma once
/// @file
/// The values a store server and its clients both speak of: objects as
/// listed, events as streamed to subscribers, names as listed, and the
/// store's occupancy. Included by `store_client.hpp` and `store_server.hpp`,
/// so neither needs the other.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include <shmkit/store/object_id.hpp>

namespace shmkit {

/// Whether an object can be read yet.
enum class ObjectState : std::uint8_t { created, sealed };

/// One object as `StoreClient::list` reports it.
struct ObjectInfo {
  ObjectId id;
  std::uint64_t data_size = 0;
  std::uint64_t metadata_size = 0;
  ObjectState state = ObjectState::created;
  std::uint32_t ref_count = 0;       ///< references held by all clients
  std::int64_t created_unix_ns = 0;  ///< wall-clock time of create
  pid_t creator_pid = 0;             ///< process that created it
};

/// A notification from the store.
struct StoreEvent {
  enum class Kind : std::uint8_t {
    sealed = 1,        ///< the object can now be read
    removed = 2,       ///< the object was removed, evicted or aborted after sealing
    overflow = 3,      ///< events were dropped because this subscriber fell behind; re-list
    name_changed = 4,  ///< `name` in `ns` was bound or rebound to `id`, or erased (`id` unset)
  };
  Kind kind = Kind::sealed;
  ObjectId id;  ///< unset for overflow and for an erased name
  std::uint64_t data_size = 0;
  std::uint64_t metadata_size = 0;
  std::string ns;    ///< name_changed only
  std::string name;  ///< name_changed only
};

/// One named value for the batch `StoreClient::put_named` (and the request
/// that carries a small one).
struct NamedObject {
  std::string ns;
  std::string name;
  ObjectId id;
  std::span<const std::byte> data;
  std::span<const std::byte> metadata;
};

/// One name of a namespace, as `StoreClient::list_names` reports it.
struct NameBinding {
  std::string name;
  ObjectId id;
};

/// One namespace, as `StoreClient::namespaces` reports it.
struct NamespaceInfo {
  std::string name;
  std::uint64_t names = 0;  ///< names bound in it
};

/// Capacity and occupancy of a store, in bytes.
struct StoreStats {
  std::uint64_t capacity = 0;       ///< bytes for object data and metadata
  std::uint64_t used = 0;           ///< bytes allocated to objects (64-byte granules)
  std::uint64_t objects = 0;        ///< objects created or sealed and not yet freed
  std::uint64_t clients = 0;        ///< connections the server has not yet seen close
  std::uint64_t waiting = 0;        ///< gets blocked right now, waiting for a seal
  std::uint64_t spilled = 0;        ///< objects evicted to the spill directory, not restored yet
  std::uint64_t spilled_bytes = 0;  ///< their data + metadata bytes
  [[nodiscard]] std::uint64_t free() const noexcept { return capacity - used; }
};

}  // namespace shmkit
