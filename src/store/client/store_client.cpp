#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/detail/futex.hpp"
#include "store/client/store_connection.hpp"
#include "store/common/unix_socket.hpp"

namespace shmkit {

using detail::Clock;
using detail::Request;

namespace {

Clock::time_point deadline_after(std::chrono::milliseconds timeout) {
  return timeout.count() < 0 ? Clock::time_point::max() : Clock::now() + timeout;
}

// The descriptors a welcome carries: the arena, then the name index.
struct WelcomeFds {
  std::array<int, 2> fds{-1, -1};
  WelcomeFds() = default;
  WelcomeFds(const WelcomeFds&) = delete;
  WelcomeFds& operator=(const WelcomeFds&) = delete;
  ~WelcomeFds() {
    for (const int fd : fds) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
  // Hands descriptor `i` over to the caller.
  int take(std::size_t i) noexcept { return std::exchange(fds[i], -1); }
};

// Reads the server's first frame; returns its body.
std::vector<std::byte> read_welcome(int fd, const std::string& path, Clock::time_point deadline, WelcomeFds& passed) {
  std::uint32_t length = 0;
  bool timed_out = false;
  if (!detail::recv_exact(fd, {reinterpret_cast<std::byte*>(&length), 4}, deadline, passed.fds, &timed_out) ||
      length == 0 || length > detail::kMaxFrameBytes) {
    if (timed_out) {
      throw TimeoutError("the store server on '" + path + "' did not answer in time");
    }
    throw Error("the store server on '" + path + "' closed the connection while greeting");
  }
  std::vector<std::byte> body(length);
  if (!detail::recv_exact(fd, body, deadline, passed.fds, &timed_out)) {
    throw Error("the store server on '" + path + "' closed the connection while greeting");
  }
  if (static_cast<detail::Status>(body[0]) != detail::Status::ok) {
    throw Error("store '" + path +
                "' refused this client: " + detail::decode_error_reply(std::span<const std::byte>(body).subspan(1)));
  }
  return body;
}

}  // namespace

namespace detail {

int open_side_connection(const std::string& path, Clock::time_point deadline) {
  const int fd = connect_unix(path, deadline);
  // Side connections carry no data: the passed descriptors just close.
  WelcomeFds passed;
  try {
    read_welcome(fd, path, deadline, passed);
  } catch (...) {
    ::close(fd);
    throw;
  }
  return fd;
}

}  // namespace detail

// --- ObjectBuffer ---------------------------------------------------------

ObjectBuffer::ObjectBuffer(ObjectBuffer&& other) noexcept {
  *this = std::move(other);
}

ObjectBuffer& ObjectBuffer::operator=(ObjectBuffer&& other) noexcept {
  if (this != &other) {
    release();
    connection_ = std::move(other.connection_);
    id_ = other.id_;
    lease_ = other.lease_;
    data_ = other.data_;
    metadata_ = other.metadata_;
    other.data_ = {};
    other.metadata_ = {};
  }
  return *this;
}

ObjectBuffer::~ObjectBuffer() {
  release();
}

void ObjectBuffer::release() noexcept {
  if (connection_) {
    connection_->release(lease_);
    connection_.reset();
    data_ = {};
    metadata_ = {};
  }
}

// --- Subscription ---------------------------------------------------------

Subscription::Subscription(Subscription&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)) {}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

Subscription::~Subscription() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

std::optional<StoreEvent> Subscription::next(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = deadline_after(timeout);
  for (;;) {
    // Frames are [u32 length][body]; name_changed events are longer than the others.
    std::uint32_t length = 0;
    if (buffer_.size() >= sizeof(length)) {
      std::memcpy(&length, buffer_.data(), sizeof(length));
      if (length > detail::kMaxFrameBytes) {
        throw Error("the store server sent a malformed event");
      }
    }
    if (buffer_.size() >= detail::kEventFrameBytes && buffer_.size() >= sizeof(length) + length) {
      const std::size_t frame = sizeof(length) + length;
      const StoreEvent event = detail::decode_event({buffer_.data(), frame});
      buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(frame));
      return event;
    }
    int wait_ms = -1;
    if (deadline != Clock::time_point::max()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      wait_ms = static_cast<int>(std::max<long long>(0, left));
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready == 0) {
      return std::nullopt;
    }
    std::byte chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      throw Error("the store server closed the subscription");
    }
    if (n > 0) {
      buffer_.insert(buffer_.end(), chunk, chunk + n);
    }
  }
}

// --- StoreClient ----------------------------------------------------------

StoreClient StoreClient::connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = deadline_after(timeout);
  const int fd = detail::connect_unix(socket_path, deadline);
  WelcomeFds passed;
  try {
    const std::vector<std::byte> body = read_welcome(fd, socket_path, deadline, passed);
    const std::optional<detail::Welcome> welcome = detail::decode_welcome(std::span<const std::byte>(body).subspan(1));
    if (!welcome) {
      throw Error("the store server on '" + socket_path + "' sent a malformed greeting");
    }
    const std::uint32_t version = welcome->layout_version;
    const std::uint32_t slot = welcome->client_slot;
    // Checked before the descriptors: an older server sends only one.
    if (version != detail::kStoreLayoutVersion) {
      throw LayoutError("the store server on '" + socket_path + "' speaks layout version " + std::to_string(version) +
                        ", this client " + std::to_string(detail::kStoreLayoutVersion) + "; use a matching shmkit");
    }
    if (passed.fds[0] < 0 || passed.fds[1] < 0) {
      throw Error("the store server on '" + socket_path + "' sent a malformed greeting");
    }
    detail::ArenaMapping arena = detail::ArenaMapping::attach(passed.take(0));
    detail::NameIndexMapping names = detail::NameIndexMapping::attach(passed.take(1));
    if (slot >= arena.view().header().max_clients) {
      throw Error("the store server on '" + socket_path + "' sent a malformed greeting");
    }
    return StoreClient(
        std::make_shared<detail::StoreConnection>(socket_path, fd, std::move(arena), std::move(names), slot));
  } catch (...) {
    ::close(fd);
    throw;
  }
}

StoreClient::StoreClient(std::shared_ptr<detail::StoreConnection> connection) noexcept
    : connection_(std::move(connection)) {}
StoreClient::StoreClient(StoreClient&&) noexcept = default;
StoreClient& StoreClient::operator=(StoreClient&&) noexcept = default;
StoreClient::~StoreClient() = default;

WritableBuffer StoreClient::create(const ObjectId& id, std::size_t data_size, std::span<const std::byte> metadata) {
  return connection_->create(id, data_size, metadata);
}

void StoreClient::seal(const ObjectId& id) {
  connection_->seal(id);
}

void StoreClient::abort(const ObjectId& id) {
  connection_->request(detail::encode_id_request(Request::abort, id));
  connection_->forget_created(id);
}

void StoreClient::create_and_seal(const ObjectId& id, std::span<const std::byte> data,
                                  std::span<const std::byte> metadata) {
  const ObjectToPut one{id, data, metadata};
  connection_->create_batch({&one, 1});
}

void StoreClient::create_and_seal(std::span<const ObjectToPut> objects) {
  while (!objects.empty()) {
    const std::size_t n = std::min<std::size_t>(objects.size(), detail::kMaxBatch);
    connection_->create_batch(objects.first(n));
    objects = objects.subspan(n);
  }
}

std::vector<ObjectBuffer> StoreClient::get(std::span<const ObjectId> ids, std::chrono::milliseconds timeout) {
  std::vector<ObjectBuffer> buffers(ids.size());
  std::size_t missing = ids.size();
  const auto try_all = [&] {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (!buffers[i].valid() && connection_->try_get(connection_, ids[i], buffers[i])) {
        --missing;
      }
    }
  };
  try_all();
  if (missing != 0 && connection_->view().header().spill != 0) {
    restore_spilled(ids, buffers);
    try_all();
  }
  if (missing == 0 || timeout.count() == 0) {
    return buffers;
  }
  const Clock::time_point deadline = deadline_after(timeout);
  auto& h = connection_->view().header();
  std::atomic<std::uint32_t>& mine = connection_->view().client(connection_->client_slot()).waiting;
  // Global count first, own share second (and the reverse on the way out):
  // a kill between the two leaves at most one spurious wake-up per seal.
  const auto stop_waiting = [&] {
    mine.fetch_sub(1, std::memory_order_seq_cst);
    h.waiters.fetch_sub(1, std::memory_order_seq_cst);
  };
  for (;;) {
    // Registered as a waiter before re-checking, so a seal either shows up
    // in the check or sees the waiter and wakes the futex.
    h.waiters.fetch_add(1, std::memory_order_seq_cst);
    mine.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t seq = h.seal_seq.load(std::memory_order_seq_cst);
    try {
      try_all();
    } catch (...) {
      stop_waiting();
      throw;
    }
    const Clock::time_point now = Clock::now();
    if (missing == 0 || now >= deadline) {
      stop_waiting();
      return buffers;
    }
    // At most a second per sleep: a server that stopped (it wakes every
    // sleeper when it does) or died must end a get that would wait forever.
    const auto left = std::min<std::chrono::nanoseconds>(deadline - now, std::chrono::seconds(1));
    detail::futex_wait(h.seal_seq, seq, left);
    stop_waiting();
    if (connection_->server_gone()) {
      throw Error("the store server on '" + connection_->path() + "' stopped while this client waited in get");
    }
  }
}

void StoreClient::restore_spilled(std::span<const ObjectId> ids, std::span<const ObjectBuffer> buffers) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (buffers[i].valid()) {
      continue;
    }
    try {
      connection_->request(detail::encode_id_request(Request::restore, ids[i]));
    } catch (const NotFoundError&) {
      // Not spilled either: not created or not sealed yet, or gone.
    }
  }
}

std::optional<ObjectBuffer> StoreClient::get(const ObjectId& id, std::chrono::milliseconds timeout) {
  if (timeout.count() == 0) {
    ObjectBuffer buffer;
    if (connection_->try_get(connection_, id, buffer)) {
      return buffer;
    }
    if (connection_->view().header().spill == 0) {
      return std::nullopt;
    }
  }
  std::vector<ObjectBuffer> buffers = get(std::span<const ObjectId>(&id, 1), timeout);
  if (!buffers[0].valid()) {
    return std::nullopt;
  }
  return std::move(buffers[0]);
}

bool StoreClient::contains(const ObjectId& id) const noexcept {
  const detail::ArenaView& v = connection_->view();
  const auto found = v.find(id);
  if (found.index == v.slots()) {
    return false;
  }
  const std::uint32_t state = detail::ctl_state(found.ctl);
  return state == detail::kEntrySealed || state == detail::kEntryFreeing;
}

bool StoreClient::remove(const ObjectId& id) {
  try {
    connection_->request(detail::encode_id_request(Request::remove, id));
  } catch (const NotFoundError&) {
    return false;
  }
  return true;
}

std::uint64_t StoreClient::evict(std::uint64_t bytes) {
  return detail::decode_count_reply(connection_->request(detail::encode_evict(bytes)), "evict");
}

void StoreClient::refresh(std::span<const ObjectId> ids) noexcept {
  const detail::ArenaView& v = connection_->view();
  for (const ObjectId& id : ids) {
    const auto found = v.find(id);
    if (found.index != v.slots() && detail::ctl_state(found.ctl) == detail::kEntrySealed) {
      v.entry(found.index)
          .lru.store(v.header().lru_clock.fetch_add(1, std::memory_order_relaxed), std::memory_order_relaxed);
    }
  }
}

std::vector<ObjectInfo> StoreClient::list() {
  return detail::decode_list_reply(connection_->request(detail::encode_bare_request(Request::list)));
}

Subscription StoreClient::subscribe() {
  return open_subscription(Request::subscribe);
}

Subscription StoreClient::subscribe_names() {
  return open_subscription(Request::subscribe_names);
}

Subscription StoreClient::open_subscription(detail::Request kind) {
  const std::string& path = connection_->path();
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  Subscription subscription(detail::open_side_connection(path, deadline));
  if (!detail::send_all(subscription.fd_, detail::encode_bare_request(kind))) {
    throw Error("the store server on '" + path + "' closed the connection while subscribing");
  }
  std::byte reply[5];
  if (!detail::recv_exact(subscription.fd_, reply, deadline, {}, nullptr) ||
      static_cast<detail::Status>(reply[4]) != detail::Status::ok) {
    throw Error("the store server on '" + path + "' refused the subscription");
  }
  return subscription;
}

std::uint64_t StoreClient::snapshot(const std::string& dir) {
  if (dir.empty()) {
    throw Error("store snapshot needs a directory");
  }
  return detail::decode_count_reply(connection_->request(detail::encode_text_request(Request::snapshot, dir)),
                                    "snapshot");
}

StoreStats StoreClient::stats() const noexcept {
  connection_->await_published();
  return detail::read_stats(connection_->view().header());
}

}  // namespace shmkit
