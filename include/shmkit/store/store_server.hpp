#pragma once
/// @file
/// The store server: owns the shared arena and all bookkeeping, on a thread
/// of the host process (the embedded form; `shmkit store` runs the same
/// server in the foreground).
///
/// Process model: the server alone allocates and frees. Clients connect over
/// a Unix socket, receive the arena's memfd and the read-only name index
/// (SCM_RIGHTS) and then look up names, reference, seal and read objects
/// directly in shared memory; create, abort, remove, evict, list, subscribe
/// and changes to names go over the socket.
///
/// Caveats:
/// - A client's references and unsealed creations are released when its
///   socket closes (exit, crash, SIGKILL); nothing a client sends can stop
///   the server, but a client that maps the arena writable can corrupt the
///   shared index (never the server's allocator, which is private to it).
/// - After fork(), a child must not use the parent's StoreServer.

#include <cstdint>
#include <memory>
#include <string>

#include <shmkit/store/store_options.hpp>

namespace shmkit {

namespace detail {
class StoreServerLoop;
}

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

/// A running store server. Move-only; the destructor stops it.
class StoreServer {
 public:
  /// Creates the arena, binds the socket and starts serving on a new thread.
  /// @throws Error (capacity does not fit in available memory, socket path
  ///         too long or not writable), ExistsError (a server already
  ///         listens on the socket)
  [[nodiscard]] static StoreServer start(StoreOptions options);

  StoreServer(StoreServer&&) noexcept;
  StoreServer& operator=(StoreServer&&) noexcept;
  StoreServer(const StoreServer&) = delete;
  StoreServer& operator=(const StoreServer&) = delete;
  /// Stops the server (see `stop`).
  ~StoreServer();

  /// Stops serving: closes every client connection, removes the socket
  /// file and joins the thread. Clients already connected keep their
  /// mappings valid, but their requests fail. Idempotent.
  void stop() noexcept;

  /// The socket clients connect to.
  [[nodiscard]] const std::string& socket_path() const noexcept;

  /// Current occupancy (read from the shared header, no locking).
  [[nodiscard]] StoreStats stats() const noexcept;

 private:
  explicit StoreServer(std::unique_ptr<detail::StoreServerLoop> loop) noexcept;
  std::unique_ptr<detail::StoreServerLoop> loop_;
};

}  // namespace shmkit
