#include "store/server/server_loop.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <shmkit/core/error.hpp>

#include "core/detail/futex.hpp"
#include "store/common/unix_socket.hpp"

namespace shmkit::detail {

namespace {

// Replies a client has not read yet; past this it is not reading and is
// dropped rather than let it grow the server without bound.
constexpr std::size_t kMaxPendingReply = std::size_t{64} << 20;
constexpr std::size_t kReadChunk = 64 * 1024;

// The automatic bound is one name per index slot; the explicit one stops
// where the name index would pass 4 GiB.
std::uint64_t max_names_for(const StoreOptions& options, std::uint64_t slots) {
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 24;
  const std::uint64_t names = options.max_names != 0 ? options.max_names : slots;
  if (names > kLimit) {
    throw Error("store max_names " + std::to_string(names) + " exceeds the limit of " + std::to_string(kLimit));
  }
  return names;
}

std::vector<std::byte> event_frame(const StoreEvent& event) {
  FrameWriter w;
  w.put(kEventFrame)
      .put(static_cast<std::uint8_t>(event.kind))
      .put_id(event.id)
      .put(event.data_size)
      .put(event.metadata_size);
  return std::move(w.finish());
}

}  // namespace

StoreServerLoop::StoreServerLoop(StoreOptions options)
    : options_(std::move(options)),
      arena_(ArenaMapping::create(options_)),
      max_names_(max_names_for(options_, arena_.view().slots())),
      name_index_map_(NameIndexMapping::create(max_names_)),
      name_index_(name_index_map_.view()),
      spill_(options_.spill_dir.empty() ? nullptr : std::make_unique<SpillStore>(options_.spill_dir)),
      table_(
          arena_.view(), [this](const StoreEvent& event) { broadcast(event); },
          spill_ ? std::function<bool(const ObjectRecord&)>(
                       [this](const ObjectRecord& record) { return spill_object(record); })
                 : nullptr),
      persistence_(options_.persist_dir.empty()
                       ? nullptr
                       : std::make_unique<NamePersistence>(options_.persist_dir, options_.persist_sync)),
      client_slot_used_(arena_.view().header().max_clients, false) {
  if (persistence_) {
    load_persisted();
  }
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

StoreServerLoop::~StoreServerLoop() {
  stop();
}

void StoreServerLoop::stop() noexcept {
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
  auto& h = arena_.view().header();
  h.seal_seq.fetch_add(1, std::memory_order_seq_cst);  // blocked gets wake up and see the socket close
  futex_wake_all(h.seal_seq);
  ::close(listen_fd_);
  ::unlink(options_.socket_path.c_str());
  ::close(wake_fd_);
}

StoreStats StoreServerLoop::stats() const noexcept {
  return read_stats(arena_.view().header());
}

void StoreServerLoop::log(const std::string& line) const noexcept {
  if (options_.log) {
    try {
      options_.log(line);
    } catch (...) {
    }
  }
}

void StoreServerLoop::run() noexcept {
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
    const int ready = ::poll(fds.data(), fds.size(), spinning ? 0 : -1);
    if (ready < 0) {
      continue;  // EINTR
    }
    if (ready == 0) {
      continue;
    }
    const auto now = Clock::now();
    if (now - last_activity < spin) {
      spin_until = now + spin;
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

void StoreServerLoop::accept_clients() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      return;  // EAGAIN (none left) or a client gone before accept
    }
    const long uid = peer_uid(fd);
    const pid_t pid = peer_pid(fd);
    auto refuse = [&](const std::string& why) {
      FrameWriter w;
      w.put(Status::denied).put_bytes(why);
      const auto& frame = w.finish();
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
    const auto free_slot = std::find(client_slot_used_.begin(), client_slot_used_.end(), false);
    if (free_slot == client_slot_used_.end()) {
      refuse("store '" + options_.socket_path + "' already serves " + std::to_string(client_slot_used_.size()) +
             " clients; start it with a larger --max-clients");
      continue;
    }
    const auto slot = static_cast<std::uint64_t>(free_slot - client_slot_used_.begin());
    const ArenaView& view = arena_.view();
    ClientSlot& cs = view.client(slot);
    LeaseRecord* leases = view.leases(slot);
    for (std::uint64_t l = 0; l < view.header().leases_per_client; ++l) {
      leases[l].count.store(0, std::memory_order_relaxed);
      leases[l].key.store(0, std::memory_order_relaxed);
    }
    cs.lease_high.store(0, std::memory_order_relaxed);
    cs.waiting.store(0, std::memory_order_relaxed);
    cs.pid = pid;
    cs.in_use.store(1, std::memory_order_seq_cst);

    auto c = std::make_unique<Connection>();
    c->fd = fd;
    c->id = next_connection_id_++;
    c->client_slot = static_cast<std::int64_t>(slot);
    c->pid = pid;
    c->uid = static_cast<uid_t>(uid);
    FrameWriter w;
    w.put(Status::ok).put(kStoreLayoutVersion).put(static_cast<std::uint32_t>(slot)).put(view.header().arena_bytes);
    // The welcome is the first thing on a fresh socket, so it fits in the
    // socket buffer: a blocking send of it cannot stall the server.
    const int passed[] = {arena_.fd(), name_index_map_.fd()};
    if (!send_all(fd, w.finish(), passed)) {
      cs.in_use.store(0, std::memory_order_seq_cst);
      ::close(fd);
      continue;
    }
    *free_slot = true;
    view.header().clients.fetch_add(1, std::memory_order_relaxed);
    log("store: client pid " + std::to_string(pid) + " connected (slot " + std::to_string(slot) + ")");
    connections_.push_back(std::move(c));
  }
}

void StoreServerLoop::read_from(Connection& c) {
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
    handle(c, std::span<const std::byte>(c.in.data() + pos + 4, length));
    pos += 4 + length;
    if (c.closing) {
      return;
    }
  }
  c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(pos));
}

void StoreServerLoop::reply(Connection& c, std::vector<std::byte>& frame) {
  if (c.out.size() - c.out_sent + frame.size() > kMaxPendingReply) {
    log("store: client pid " + std::to_string(c.pid) + " does not read its replies; disconnecting it");
    c.closing = true;
    return;
  }
  c.out.insert(c.out.end(), frame.begin(), frame.end());
  flush(c);
}

void StoreServerLoop::reply_error(Connection& c, Status status, const std::string& message) {
  // Full, exists and not-found are answers a working client expects;
  // malformed or refused requests point at a broken or hostile one.
  if (status == Status::invalid || status == Status::denied) {
    log("store: client pid " + std::to_string(c.pid) + ": " + message);
  }
  FrameWriter w;
  w.put(status).put_bytes(message);
  reply(c, w.finish());
}

void StoreServerLoop::handle(Connection& c, std::span<const std::byte> body) {
  // Requests leave the store consistent when they fail midway (persistence
  // and spill are written before memory changes), so a failure such as a
  // full disk is an error reply for this request, not a dropped client.
  try {
    dispatch(c, body);
  } catch (const std::exception& e) {
    reply_error(c, Status::failed, e.what());
  }
}

void StoreServerLoop::dispatch(Connection& c, std::span<const std::byte> body) {
  FrameReader r(body);
  const auto type = static_cast<Request>(r.get<std::uint8_t>());
  if (c.subscriber) {
    log("store: subscriber pid " + std::to_string(c.pid) + " sent a request; disconnecting it");
    c.closing = true;
    return;
  }
  std::string error;
  switch (type) {
    case Request::create:
      handle_create(c, r);
      return;
    case Request::abort: {
      const ObjectId id = r.get_id();
      if (!r.ok()) {
        break;
      }
      const Status s = table_.abort(id, c.id, error);
      if (s != Status::ok) {
        reply_error(c, s, error);
        return;
      }
      FrameWriter w;
      reply(c, w.put(Status::ok).finish());
      return;
    }
    case Request::remove: {
      const ObjectId id = r.get_id();
      if (!r.ok()) {
        break;
      }
      bool deferred = false;
      Status s = table_.remove(id, deferred, error);
      if (s == Status::not_found && spill_ && spill_->erase(id)) {
        update_spill_stats();
        s = Status::ok;
      }
      if (s != Status::ok) {
        reply_error(c, s, error);
        return;
      }
      FrameWriter w;
      reply(c, w.put(Status::ok).put(static_cast<std::uint8_t>(deferred)).finish());
      return;
    }
    case Request::evict: {
      const auto bytes = r.get<std::uint64_t>();
      if (!r.ok()) {
        break;
      }
      FrameWriter w;
      reply(c, w.put(Status::ok).put(table_.evict(bytes)).finish());
      return;
    }
    case Request::list: {
      if (!r.ok()) {
        break;
      }
      const auto infos = table_.list();
      FrameWriter w;
      w.put(Status::ok).put(static_cast<std::uint32_t>(infos.size()));
      for (const ObjectInfo& info : infos) {
        w.put_id(info.id).put(info.data_size).put(info.metadata_size).put(static_cast<std::uint8_t>(info.state));
        w.put(info.ref_count).put(info.created_unix_ns).put(static_cast<std::int32_t>(info.creator_pid));
      }
      reply(c, w.finish());
      return;
    }
    case Request::subscribe: {
      if (!r.ok()) {
        break;
      }
      // Counted before the snapshot: a client sealing concurrently either
      // sees the count and notifies, or its seal is in the snapshot.
      arena_.view().header().subscribers.fetch_add(1, std::memory_order_seq_cst);
      const std::vector<StoreEvent> snapshot = table_.snapshot();
      c.subscriber = true;
      FrameWriter w;
      reply(c, w.put(Status::ok).finish());
      for (const StoreEvent& event : snapshot) {
        queue_event(c, event);
      }
      flush(c);
      log("store: client pid " + std::to_string(c.pid) + " subscribed");
      return;
    }
    case Request::sealed_notice:
    case Request::released_notice: {
      const auto index = r.get<std::uint32_t>();
      const auto generation = r.get<std::uint32_t>();
      if (!r.ok()) {
        log("store: client pid " + std::to_string(c.pid) + " sent a malformed notice; disconnecting it");
        c.closing = true;
        return;
      }
      if (type == Request::sealed_notice) {
        table_.sealed_notice(index, generation);
      } else {
        table_.recheck_doomed();
      }
      return;
    }
    case Request::put_name:
    case Request::get_name:
    case Request::drop_name:
    case Request::list_names:
    case Request::namespaces:
    case Request::remove_namespace:
      if (handle_name(c, type, r)) {
        return;
      }
      break;
    case Request::put_value:
      if (handle_put_value(c, r)) {
        return;
      }
      break;
    case Request::restore: {
      const ObjectId id = r.get_id();
      if (!r.ok()) {
        break;
      }
      const Status s = restore(id, error);
      if (s != Status::ok) {
        reply_error(c, s, error);
        return;
      }
      FrameWriter w;
      reply(c, w.put(Status::ok).finish());
      return;
    }
    case Request::snapshot:
      if (handle_snapshot(c, r)) {
        return;
      }
      break;
  }
  reply_error(c, Status::invalid,
              "malformed store request (type " + std::to_string(static_cast<int>(type)) + ", " +
                  std::to_string(body.size()) + " bytes)");
}

void StoreServerLoop::handle_create(Connection& c, FrameReader& r) {
  const auto count = r.get<std::uint32_t>();
  if (count == 0 || count > kMaxBatch || r.remaining() != std::uint64_t{count} * (ObjectId::kSize + 16)) {
    reply_error(c, Status::invalid, "malformed create request");
    return;
  }
  std::vector<ObjectTable::Created> created(count);
  std::string error;
  for (std::uint32_t i = 0; i < count; ++i) {
    const ObjectId id = r.get_id();
    const auto data_size = r.get<std::uint64_t>();
    const auto metadata_size = r.get<std::uint64_t>();
    Status s = Status::ok;
    if (spill_ && spill_->find(id)) {
      // Ids are write-once: an evicted object keeps its id while spilled.
      error = "object " + id.hex() + " already exists (spilled to disk); remove it first or use another id";
      s = Status::exists;
    } else {
      s = table_.create(id, data_size, metadata_size, c.pid, c.id, created[i], error);
    }
    if (s != Status::ok) {
      for (std::uint32_t j = 0; j < i; ++j) {
        table_.abort_index(created[j].index);
      }
      reply_error(c, s, error);
      return;
    }
  }
  FrameWriter w;
  w.put(Status::ok);
  for (const auto& object : created) {
    w.put(object.index).put(object.generation).put(object.offset);
  }
  reply(c, w.finish());
}

void StoreServerLoop::queue_event(Connection& c, const StoreEvent& event) {
  if (c.events.size() >= options_.subscriber_queue) {
    // A subscriber that does not keep up loses its backlog, not the server
    // its memory: it learns so from the overflow event and can re-list.
    c.events.clear();
    c.events.push_back(StoreEvent{StoreEvent::Kind::overflow, {}, 0, 0});
    return;
  }
  c.events.push_back(event);
}

void StoreServerLoop::broadcast(const StoreEvent& event) {
  for (auto& c : connections_) {
    if (c->subscriber && !c->closing) {
      queue_event(*c, event);
      flush(*c);
    }
  }
}

void StoreServerLoop::flush(Connection& c) noexcept {
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
        c.out = event_frame(c.events.front());
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

void StoreServerLoop::close_connection(Connection& c) noexcept {
  if (c.fd < 0) {
    return;
  }
  ::close(c.fd);
  c.fd = -1;
  stop_waiting(c);
  const ArenaView& view = arena_.view();
  if (c.subscriber) {
    view.header().subscribers.fetch_sub(1, std::memory_order_seq_cst);
  }
  if (c.client_slot >= 0) {
    const auto slot = static_cast<std::uint64_t>(c.client_slot);
    // The client is gone, so nobody writes its lease table any more:
    // dropping it releases every reference it held.
    ClientSlot& cs = view.client(slot);
    cs.in_use.store(0, std::memory_order_seq_cst);
    view.header().waiters.fetch_sub(cs.waiting.exchange(0, std::memory_order_seq_cst), std::memory_order_seq_cst);
    LeaseRecord* leases = view.leases(slot);
    for (std::uint64_t l = 0; l < view.header().leases_per_client; ++l) {
      leases[l].count.store(0, std::memory_order_relaxed);
    }
    client_slot_used_[slot] = false;
  }
  view.header().clients.fetch_sub(1, std::memory_order_relaxed);
  try {
    table_.drop_owner(c.id);
    table_.recheck_doomed();
  } catch (...) {
    // Only allocation can fail here; the objects stay until the next check.
  }
  log("store: client pid " + std::to_string(c.pid) + " disconnected");
}

}  // namespace shmkit::detail
