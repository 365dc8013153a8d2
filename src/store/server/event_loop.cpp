#include "store/server/event_loop.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <shmkit/core/error.hpp>

#include "store/common/unix_socket.hpp"

namespace shmkit::detail {

namespace {

// Replies a client has not read yet; past this it is not reading and is
// dropped rather than let it grow the server without bound.
constexpr std::size_t kMaxPendingReply = std::size_t{64} << 20;
constexpr std::size_t kReadChunk = 64 * 1024;

}  // namespace

EventLoop::EventLoop(StoreOptions options) : options_(std::move(options)), handler_(options_, *this) {
  if (options_.allowed_uids.empty()) {
    options_.allowed_uids.push_back(::geteuid());
  }
  if (options_.subscriber_queue == 0) {
    options_.subscriber_queue = 1;
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    throw_system_error("cannot create the store server's wake-up descriptor", errno);
  }
  try {
    listen_fd_ = listen_unix(options_.socket_path, options_.socket_mode);
  } catch (...) {
    ::close(wake_fd_);
    throw;
  }
  thread_ = std::thread([this] { run(); });
}

EventLoop::~EventLoop() {
  stop();
}

void EventLoop::stop() noexcept {
  if (stopping_.exchange(true)) {
    return;
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) {
    thread_.join();
  }
  for (auto& c : connections_) {
    ::close(c->fd);
  }
  connections_.clear();
  handler_.wake_getters();
  ::close(listen_fd_);
  ::unlink(options_.socket_path.c_str());
  ::close(wake_fd_);
}

void EventLoop::log(const std::string& line) const noexcept {
  if (options_.log) {
    try {
      options_.log(line);
    } catch (...) {
    }
  }
}

void EventLoop::run() noexcept {
  std::vector<pollfd> fds;
  using Clock = std::chrono::steady_clock;
  const auto spin = std::chrono::microseconds(options_.spin_us);
  auto last_activity = Clock::time_point{};
  auto spin_until = Clock::time_point{};
  while (!stopping_.load()) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& c : connections_) {
      const short events = static_cast<short>(POLLIN | (c->out.size() > c->out_sent ? POLLOUT : 0));
      fds.push_back({c->fd, events, 0});
    }
    // Busy for a moment after a request of a burst before sleeping: the
    // next one then finds the thread awake, because waking a sleeping
    // thread (on an idle core, and on a virtual machine most of all) costs
    // tens of microseconds, several times a whole round trip. A lone
    // request (none in the spin_us before it) is not followed by polling:
    // a rig whose clients call now and then, on a machine with more busy
    // processes than cores, would lose that CPU time for nothing.
    const bool spinning = Clock::now() < spin_until;
    const int ready = ::poll(fds.data(), fds.size(), spinning ? 0 : handler_.poll_timeout_ms());
    handler_.drain_published();
    if (ready < 0) {
      continue;  // EINTR
    }
    if (ready == 0) {
      if (spinning) {
        // Let a thread waiting for this core run first: the client this
        // loop just replied to may have been woken here, and the scheduler
        // (EEVDF) does not preempt a running thread for it, so it would
        // wait out the whole polling window (measured: spin_us + the round
        // trip on a machine with no idle core).
        ::sched_yield();
      }
      continue;
    }
    const auto now = Clock::now();
    if (now - last_activity < spin) {
      spin_until = now + spin;
      handler_.polling_until(spin_until);
    }
    last_activity = now;
    if (fds[0].revents != 0) {
      break;
    }
    // Connections accepted below are polled next round; the ones polled
    // now are the first fds.size() - 2.
    const std::size_t polled = fds.size() - 2;
    for (std::size_t i = 0; i < polled; ++i) {
      Connection& c = *connections_[i];
      const short revents = fds[i + 2].revents;
      try {
        if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
          read_from(c);
        }
        if (!c.closing && (revents & POLLOUT) != 0) {
          flush(c);
        }
      } catch (const std::exception& e) {
        log("store: dropping client pid " + std::to_string(c.pid) + ": " + e.what());
        c.closing = true;
      }
    }
    if (fds[1].revents != 0) {
      accept_clients();
    }
    for (auto& c : connections_) {
      if (c->closing) {
        close_connection(*c);
      }
    }
    std::erase_if(connections_, [](const auto& c) { return c->fd < 0; });
  }
}

void EventLoop::accept_clients() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      return;  // EAGAIN (none left) or a client gone before accept
    }
    const long uid = peer_uid(fd);
    const pid_t pid = peer_pid(fd);
    auto refuse = [&](const std::string& why) {
      const Frame frame = encode_error_reply(Status::denied, why);
      [[maybe_unused]] const ssize_t n = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      log("store: refused pid " + std::to_string(pid) + ": " + why);
    };
    if (std::find(options_.allowed_uids.begin(), options_.allowed_uids.end(), static_cast<uid_t>(uid)) ==
        options_.allowed_uids.end()) {
      refuse("uid " + std::to_string(uid) + " may not use store '" + options_.socket_path +
             "'; start the server with --allow-uid " + std::to_string(uid));
      continue;
    }
    const std::optional<std::uint64_t> slot = handler_.admit(pid);
    if (!slot) {
      refuse("store '" + options_.socket_path + "' already serves " + std::to_string(handler_.max_clients()) +
             " clients; start it with a larger --max-clients");
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    c->id = next_connection_id_++;
    c->client_slot = static_cast<std::int64_t>(*slot);
    c->pid = pid;
    c->uid = static_cast<uid_t>(uid);
    handler_.lend_at_connect(*slot, c->id);
    // The welcome is the first thing on a fresh socket, so it fits in the
    // socket buffer: a blocking send of it cannot stall the server.
    const int passed[] = {handler_.arena_fd(), handler_.name_index_fd()};
    if (!send_all(fd, encode_welcome({kStoreLayoutVersion, static_cast<std::uint32_t>(*slot), handler_.arena_bytes()}),
                  passed)) {
      handler_.admit_failed(*slot);
      ::close(fd);
      continue;
    }
    log("store: client pid " + std::to_string(pid) + " connected (slot " + std::to_string(*slot) + ")");
    connections_.push_back(std::move(c));
  }
}

void EventLoop::read_from(Connection& c) {
  std::byte chunk[kReadChunk];
  for (;;) {
    const ssize_t n = ::recv(c.fd, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      break;
    }
    if (n <= 0) {
      c.closing = true;
      break;
    }
    c.in.insert(c.in.end(), chunk, chunk + n);
    if (static_cast<std::size_t>(n) < sizeof(chunk)) {
      break;
    }
  }
  std::size_t pos = 0;
  while (c.in.size() - pos >= 4) {
    std::uint32_t length = 0;
    std::memcpy(&length, c.in.data() + pos, 4);
    if (length == 0 || length > kMaxFrameBytes) {
      log("store: client pid " + std::to_string(c.pid) + " sent a frame of " + std::to_string(length) +
          " bytes; disconnecting it");
      c.closing = true;
      return;
    }
    if (c.in.size() - pos - 4 < length) {
      break;
    }
    handler_.handle(c, std::span<const std::byte>(c.in.data() + pos + 4, length));
    pos += 4 + length;
    if (c.closing) {
      return;
    }
  }
  c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(pos));
}

void EventLoop::reply(Connection& c, const Frame& frame) {
  if (c.out.size() - c.out_sent + frame.size() > kMaxPendingReply) {
    log("store: client pid " + std::to_string(c.pid) + " does not read its replies; disconnecting it");
    c.closing = true;
    return;
  }
  c.out.insert(c.out.end(), frame.begin(), frame.end());
  flush(c);
}

void EventLoop::reply_error(Connection& c, Status status, const std::string& message) {
  // Full, exists and not-found are answers a working client expects;
  // malformed or refused requests point at a broken or hostile one.
  if (status == Status::invalid || status == Status::denied) {
    log("store: client pid " + std::to_string(c.pid) + ": " + message);
  }
  reply(c, encode_error_reply(status, message));
}

void EventLoop::queue_event(Connection& c, const StoreEvent& event) {
  if (c.events.size() >= options_.subscriber_queue) {
    // A subscriber that does not keep up loses its backlog, not the server
    // its memory: it learns so from the overflow event and can re-list.
    c.events.clear();
    c.events.push_back(StoreEvent{StoreEvent::Kind::overflow, {}, 0, 0, {}, {}});
    return;
  }
  c.events.push_back(event);
}

void EventLoop::broadcast(const StoreEvent& event) {
  for (auto& c : connections_) {
    if (c->subscriber && !c->closing) {
      queue_event(*c, event);
      flush(*c);
    }
  }
}

void EventLoop::broadcast_names(const StoreEvent& event) {
  for (auto& c : connections_) {
    if (c->name_subscriber && !c->closing) {
      queue_event(*c, event);
      flush(*c);
    }
  }
}

void EventLoop::flush(Connection& c) noexcept {
  for (;;) {
    if (c.out_sent == c.out.size()) {
      c.out.clear();
      c.out_sent = 0;
      if (c.events.empty()) {
        return;
      }
      // One event at a time moves into the byte buffer, so the queue bound
      // is what a stalled subscriber costs.
      try {
        c.out = encode_event(c.events.front());
      } catch (...) {
        c.closing = true;
        return;
      }
      c.events.pop_front();
    }
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN) {
        c.closing = true;
      }
      return;
    }
    c.out_sent += static_cast<std::size_t>(n);
  }
}

Connection* EventLoop::connection(std::uint64_t id) noexcept {
  for (auto& c : connections_) {
    if (c->id == id) {
      return c.get();
    }
  }
  return nullptr;
}

void EventLoop::close_connection(Connection& c) noexcept {
  if (c.fd < 0) {
    return;
  }
  ::close(c.fd);
  c.fd = -1;
  handler_.disconnected(c);
  log("store: client pid " + std::to_string(c.pid) + " disconnected");
}

}  // namespace shmkit::detail
