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
#include <shmkit/store/store_types.hpp>

namespace shmkit {

namespace detail {
class EventLoop;
}

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
  explicit StoreServer(std::unique_ptr<detail::EventLoop> loop) noexcept;
  std::unique_ptr<detail::EventLoop> loop_;
};

}  // namespace shmkit
