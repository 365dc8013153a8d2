#pragma once
// The server thread's sockets: accepts clients (checking their uid and
// passing them the arena), reads their frames, hands each to the request
// handler, and sends replies and subscribers' events without ever blocking
// on a client. A malformed frame (length out of range) closes that one
// connection; what a frame says is the handler's business.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <shmkit/store/store_options.hpp>
#include <shmkit/store/store_types.hpp>

#include "store/common/messages.hpp"
#include "store/server/connection.hpp"
#include "store/server/request_handler.hpp"

namespace shmkit::detail {

class EventLoop {
 public:
  // Sets up the store (see RequestHandler), listens and starts the thread.
  explicit EventLoop(StoreOptions options);
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop();

  void stop() noexcept;
  [[nodiscard]] const std::string& socket_path() const noexcept { return options_.socket_path; }
  [[nodiscard]] StoreStats stats() const noexcept { return handler_.stats(); }

  // For the handler, on the server thread.
  void reply(Connection& c, const Frame& frame);
  void reply_error(Connection& c, Status status, const std::string& message);
  void queue_event(Connection& c, const StoreEvent& event);
  void flush(Connection& c) noexcept;
  void broadcast(const StoreEvent& event);
  // To the connections that subscribed to name changes.
  void broadcast_names(const StoreEvent& event);
  // The open connection with this id, or nullptr.
  [[nodiscard]] Connection* connection(std::uint64_t id) noexcept;
  void log(const std::string& line) const noexcept;

 private:
  void run() noexcept;
  void accept_clients();
  void read_from(Connection& c);
  void close_connection(Connection& c) noexcept;

  StoreOptions options_;
  std::vector<std::unique_ptr<Connection>> connections_;  // before handler_: its start-up may broadcast
  RequestHandler handler_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::uint64_t next_connection_id_ = 1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace shmkit::detail
