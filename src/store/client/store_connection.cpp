#include "store/client/store_connection.hpp"

#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <shmkit/core/error.hpp>

#include "core/detail/futex.hpp"
#include "store/common/unix_socket.hpp"

namespace shmkit::detail {

namespace {

[[noreturn]] void throw_status(Status status, const std::string& message) {
  switch (status) {
    case Status::exists:
      throw ExistsError(message);
    case Status::not_found:
      throw NotFoundError(message);
    case Status::full:
      throw StoreFullError(message);
    default:
      throw Error(message);
  }
}

// The server holds an entry in `freeing` only while it scans the lease
// tables, so waiting it out is short and beats reporting a spurious miss.
std::uint64_t settle(const ObjectEntry& entry, std::uint64_t ctl) noexcept {
  for (int spins = 0; ctl_state(ctl) == kEntryFreeing && spins < 1000000; ++spins) {
    if (spins > 64) {
      ::sched_yield();
    }
    ctl = entry.ctl.load(std::memory_order_seq_cst);
  }
  return ctl;
}

}  // namespace

StoreConnection::StoreConnection(std::string path, int fd, ArenaMapping arena, NameIndexMapping names,
                                 std::uint32_t client_slot) noexcept
    : path_(std::move(path)),
      fd_(fd),
      arena_(std::move(arena)),
      names_(std::move(names)),
      client_slot_(client_slot),
      cells_(cell_array(arena_.view(), names_.view())),
      cell_count_(cell_count(arena_.view(), names_.view())) {
  // The server lends a slab at connect when it has room: its first pages
  // are mapped now, so the first set does not fault on them.
  const ClientSlot& slot = arena_.view().client(client_slot_);
  if (slot.slab_alloc.load(std::memory_order_seq_cst) != 0) {
    map_slab_locked(slot.slab_offset.load(std::memory_order_relaxed), 1);
  }
}

StoreConnection::~StoreConnection() {
  ::close(fd_);
}

std::vector<std::byte> StoreConnection::request(const Frame& frame) {
  const std::lock_guard lock(mutex_);
  return request_locked(frame);
}

Error StoreConnection::lost_locked() {
  broken_ = true;
  return Error("the store server on '" + path_ + "' closed the connection; reconnect when it runs again");
}

void StoreConnection::begin_request_locked() noexcept {
  // Poll for the reply only while the server polls too (see
  // ArenaHeader::server_polling_until_ns): a request to a sleeping server
  // blocks at once, leaving the core to the server it wakes.
  const ArenaHeader& h = arena_.view().header();
  const auto now = std::chrono::steady_clock::now();
  const auto server_polls_until = std::chrono::steady_clock::time_point(
      std::chrono::nanoseconds(h.server_polling_until_ns.load(std::memory_order_relaxed)));
  reply_poll_ = now < server_polls_until ? std::chrono::microseconds(h.spin_us) : std::chrono::microseconds{0};
}

std::vector<std::byte> StoreConnection::request_locked(const Frame& frame) {
  begin_request_locked();
  if (broken_ || !send_all(fd_, frame)) {
    throw lost_locked();
  }
  auto [status, body] = receive_locked();
  if (status != Status::ok) {
    throw_status(status, decode_error_reply(body));
  }
  return std::move(body);
}

ssize_t StoreConnection::receive_some(std::byte* out, std::size_t size) noexcept {
  // While the server polls (see begin_request_locked), this polls for a
  // moment first: a reply that arrives within
  // microseconds needs no wake-up of this thread, which on an idle core
  // can cost more than the round trip.
  if (reply_poll_.count() > 0) {
    const auto until = std::chrono::steady_clock::now() + reply_poll_;
    do {
      const ssize_t n = ::recv(fd_, out, size, MSG_DONTWAIT);
      if (n >= 0 || (errno != EAGAIN && errno != EINTR)) {
        return n;
      }
    } while (std::chrono::steady_clock::now() < until);
  }
  return ::recv(fd_, out, size, 0);
}

std::pair<Status, std::vector<std::byte>> StoreConnection::receive_locked() {
  // Plain blocking recv, as much as has arrived: a request is the latency
  // of a create, and reading the length prefix separately would add a
  // syscall to every reply. Bytes past this frame (the next reply of a
  // pipelined batch) stay in `inbox_`.
  std::size_t need = 4;
  for (;;) {
    if (inbox_.size() >= 4 && need == 4) {
      std::uint32_t length = 0;
      std::memcpy(&length, inbox_.data(), 4);
      if (length == 0 || length > kMaxReplyBytes) {
        throw lost_locked();
      }
      need = 4 + std::size_t{length};
    }
    if (inbox_.size() >= need && need > 4) {
      break;
    }
    const std::size_t have = inbox_.size();
    inbox_.resize(std::max(have + 4096, need));
    const ssize_t n = receive_some(inbox_.data() + have, inbox_.size() - have);
    if (n < 0 && errno == EINTR) {
      inbox_.resize(have);
      continue;
    }
    if (n <= 0) {
      inbox_.clear();
      throw lost_locked();
    }
    inbox_.resize(have + static_cast<std::size_t>(n));
  }
  const auto status = static_cast<Status>(inbox_[4]);
  std::vector<std::byte> body(inbox_.begin() + 5, inbox_.begin() + static_cast<std::ptrdiff_t>(need));
  inbox_.erase(inbox_.begin(), inbox_.begin() + static_cast<std::ptrdiff_t>(need));
  return {status, std::move(body)};
}

void StoreConnection::request_batch(std::span<const Frame> frames) {
  const std::lock_guard lock(mutex_);
  // The server answers from memory and never blocks on a client, so all
  // requests can be in flight before the first reply is read. They go in
  // one send, so the server reads them in one go (one wake-up, and not
  // taken for a burst of separate requests: see begin_request_locked).
  begin_request_locked();
  std::vector<std::byte> all;
  for (const Frame& frame : frames) {
    all.insert(all.end(), frame.begin(), frame.end());
  }
  if (broken_ || !send_all(fd_, all)) {
    throw lost_locked();
  }
  std::optional<std::pair<Status, std::vector<std::byte>>> first_failure;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto reply = receive_locked();
    if (reply.first != Status::ok && !first_failure) {
      first_failure = std::move(reply);
    }
  }
  if (first_failure) {
    const auto& [status, body] = *first_failure;
    throw_status(status, decode_error_reply(body));
  }
}

void StoreConnection::notify_locked(Request type, std::uint32_t index, std::uint32_t generation) noexcept {
  try {
    if (!broken_ && !send_all(fd_, encode_notice(type, Notice{index, generation}))) {
      broken_ = true;
    }
  } catch (...) {
    // Out of memory for 13 bytes: the server rechecks on our disconnect.
  }
}

bool StoreConnection::try_get(const std::shared_ptr<StoreConnection>& self, const ObjectId& id, ObjectBuffer& out) {
  const ArenaView& v = arena_.view();
  const ArenaView::Found found = v.find(id);
  if (found.index == v.slots()) {
    return false;
  }
  const std::uint64_t ctl = settle(v.entry(found.index), found.ctl);
  if (ctl_state(ctl) != kEntrySealed) {
    return false;
  }
  const std::lock_guard lock(mutex_);
  return lease_sealed_locked(self, static_cast<std::uint32_t>(found.index), ctl_generation(ctl), &id, out);
}

bool StoreConnection::lease_sealed_locked(const std::shared_ptr<StoreConnection>& self, std::uint32_t index,
                                          std::uint32_t generation, const ObjectId* id, ObjectBuffer& out) {
  const ArenaView& v = arena_.view();
  ObjectEntry& entry = v.entry(index);
  const std::uint64_t key = lease_key(generation, index);
  LeaseRecord* leases = v.leases(client_slot_);
  std::uint32_t lease = 0;
  if (const auto it = lease_of_.find(key); it != lease_of_.end()) {
    lease = it->second;
  } else {
    ClientSlot& slot = v.client(client_slot_);
    if (!free_leases_.empty()) {
      lease = free_leases_.back();
      free_leases_.pop_back();
    } else if (const std::uint32_t high = slot.lease_high.load(std::memory_order_relaxed);
               high < v.header().leases_per_client) {
      lease = high;
      slot.lease_high.store(high + 1, std::memory_order_seq_cst);
    } else {
      throw Error("this client holds references to " + std::to_string(v.header().leases_per_client) +
                  " objects already; release some, or start the store with more leases per client");
    }
    leases[lease].key.store(key, std::memory_order_relaxed);
    lease_of_.emplace(key, lease);
  }
  LeaseRecord& record = leases[lease];
  record.count.store(record.count.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
  const std::uint64_t now = settle(entry, entry.ctl.load(std::memory_order_seq_cst));
  if (now != make_ctl(generation, kEntrySealed)) {
    drop_lease_locked(lease);
    return false;
  }
  // The index is writable by every client; a damaged entry must not send
  // this one reading outside the arena.
  const std::uint64_t capacity = v.header().capacity;
  if (entry.data_offset > capacity || entry.data_size > capacity - entry.data_offset ||
      entry.metadata_size > capacity - entry.data_offset - entry.data_size) {
    drop_lease_locked(lease);
    return false;
  }
  entry.lru.store(v.header().lru_clock.fetch_add(1, std::memory_order_relaxed), std::memory_order_relaxed);
  out.release();
  out.connection_ = self;
  out.id_ = id != nullptr ? *id : ArenaView::read_id(entry);
  out.lease_ = lease;
  const std::byte* base = v.data_ro() + entry.data_offset;
  out.data_ = {base, entry.data_size};
  out.metadata_ = {base + entry.data_size, entry.metadata_size};
  return true;
}

void StoreConnection::drop_lease_locked(std::uint32_t lease) noexcept {
  const ArenaView& v = arena_.view();
  LeaseRecord& record = v.leases(client_slot_)[lease];
  const std::uint32_t count = record.count.load(std::memory_order_relaxed) - 1;
  record.count.store(count, std::memory_order_seq_cst);
  if (count != 0) {
    return;
  }
  const std::uint64_t key = record.key.load(std::memory_order_relaxed);
  lease_of_.erase(key);
  try {
    free_leases_.push_back(lease);
  } catch (...) {
    // The record just stays unused.
  }
  // A removed object waits for its last reference: tell the server if
  // that was ours (the seq_cst pair with its scan means one of us sees it).
  const auto index = static_cast<std::uint32_t>((key & 0xffffffffU) - 1);
  const auto generation = static_cast<std::uint32_t>(key >> 32);
  if (index < v.slots() && v.entry(index).ctl.load(std::memory_order_seq_cst) == make_ctl(generation, kEntryDoomed)) {
    notify_locked(Request::released_notice, index, generation);
  }
}

bool StoreConnection::server_gone() noexcept {
  const std::lock_guard lock(mutex_);
  if (broken_) {
    return true;
  }
  // Between requests nothing may arrive, so readable means end of stream.
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
    broken_ = true;
  }
  return broken_;
}

void StoreConnection::release(std::uint32_t lease) noexcept {
  const std::lock_guard lock(mutex_);
  drop_lease_locked(lease);
}

WritableBuffer StoreConnection::create(const ObjectId& id, std::size_t data_size, std::span<const std::byte> metadata) {
  const ObjectSizes sizes{id, data_size, metadata.size()};
  const std::lock_guard lock(mutex_);
  std::uint64_t offset = 0;
  if (const std::optional<FastCreated> fast = fast_create_locked(id, data_size, metadata.size(), kPublishAdopt)) {
    offset = fast->offset;
    created_[id] = fast->pending;
  } else {
    const CreatedObject created = receive_created_locked(encode_create({&sizes, 1}), {&sizes, 1}).front();
    offset = created.offset;
    created_[id] = Pending{created.index, created.generation, make_ctl(created.generation, kEntryCreated)};
  }
  std::byte* base = arena_.view().data_rw() + offset;
  if (!metadata.empty()) {
    std::memcpy(base + data_size, metadata.data(), metadata.size());
  }
  return WritableBuffer{id, {base, data_size}, {base + data_size, metadata.size()}};
}

std::vector<CreatedObject> StoreConnection::receive_created_locked(const Frame& frame,
                                                                   std::span<const ObjectSizes> objects) {
  const std::vector<std::byte> body = request_locked(frame);
  std::vector<CreatedObject> created;
  try {
    created = decode_create_reply(body, objects.size());
  } catch (...) {
    broken_ = true;
    throw;
  }
  const std::uint64_t capacity = arena_.view().header().capacity;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (created[i].offset + objects[i].data_size + objects[i].metadata_size > capacity) {
      broken_ = true;
      throw Error("the store server on '" + path_ + "' sent a malformed reply to create");
    }
  }
  return created;
}

void StoreConnection::create_batch(std::span<const ObjectToPut> objects) {
  const std::lock_guard lock(mutex_);
  const auto fill = [this](const ObjectToPut& object, std::uint64_t offset) {
    copy_object(arena_.view().data_rw() + offset, object.data, object.metadata);
  };
  // What fits this client's slab is created here; the rest in one round trip.
  std::vector<const ObjectToPut*> remote;
  std::vector<ObjectSizes> sizes;
  std::vector<ObjectId> made_here;
  try {
    for (const ObjectToPut& object : objects) {
      if (const auto fast = fast_create_locked(object.id, object.data.size(), object.metadata.size(), kPublishAdopt)) {
        fill(object, fast->offset);
        created_[object.id] = fast->pending;
        made_here.push_back(object.id);
      } else {
        remote.push_back(&object);
        sizes.push_back({object.id, object.data.size(), object.metadata.size()});
      }
    }
    if (!remote.empty()) {
      const std::vector<CreatedObject> created = receive_created_locked(encode_create(sizes), sizes);
      for (std::size_t i = 0; i < remote.size(); ++i) {
        fill(*remote[i], created[i].offset);
        created_[remote[i]->id] =
            Pending{created[i].index, created[i].generation, make_ctl(created[i].generation, kEntryCreated)};
      }
    }
  } catch (...) {
    // All or nothing, as when the server creates the whole batch.
    for (const ObjectId& id : made_here) {
      created_.erase(id);
      try {
        request_locked(encode_id_request(Request::abort, id));
      } catch (...) {
        // Lost connection: the server aborts it with the rest of ours.
      }
    }
    throw;
  }
  for (const ObjectToPut& object : objects) {
    seal_locked(object.id);
  }
}

void StoreConnection::seal(const ObjectId& id) {
  const std::lock_guard lock(mutex_);
  seal_locked(id);
}

void StoreConnection::seal_locked(const ObjectId& id) {
  const ArenaView& v = arena_.view();
  const auto it = created_.find(id);
  if (it == created_.end()) {
    const ArenaView::Found found = v.find(id);
    if (found.index != v.slots() && ctl_state(found.ctl) == kEntrySealed) {
      throw Error("object " + id.hex() + " is already sealed; an object is sealed once, by its creator");
    }
    throw NotFoundError("object " + id.hex() + " was not created by this client (or was aborted); create it first");
  }
  const Pending pending = it->second;
  created_.erase(it);
  seal_pending_locked(id, pending);
}

void StoreConnection::seal_pending_locked(const ObjectId& id, const Pending& pending) {
  const ArenaView& v = arena_.view();
  std::uint64_t expected = pending.created_ctl;
  if (!v.entry(pending.index)
           .ctl.compare_exchange_strong(expected, make_ctl(pending.generation, kEntrySealed),
                                        std::memory_order_seq_cst)) {
    throw NotFoundError("object " + id.hex() + " is no longer in the store; it was aborted before the seal");
  }
  auto& h = v.header();
  // Sealing is the object's first use: LRU age counts from here.
  v.entry(pending.index).lru.store(h.lru_clock.fetch_add(1, std::memory_order_relaxed), std::memory_order_relaxed);
  h.seal_seq.fetch_add(1, std::memory_order_seq_cst);
  if (h.waiters.load(std::memory_order_seq_cst) != 0) {
    futex_wake_all(h.seal_seq);
  }
  if (h.subscribers.load(std::memory_order_seq_cst) != 0) {
    notify_locked(Request::sealed_notice, pending.index, pending.generation);
  }
}

void StoreConnection::forget_created(const ObjectId& id) {
  const std::lock_guard lock(mutex_);
  created_.erase(id);
}

}  // namespace shmkit::detail
