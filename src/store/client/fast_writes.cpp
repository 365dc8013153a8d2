// StoreConnection's client-side writes (docs/STORE_FAST_WRITES.md): objects
// allocated from this client's slab, entered in the shared index with a
// CAS and announced to the server through the publish ring; names rebound
// by swapping their cell. Nothing here waits for the server.

#include <sched.h>
#include <sys/mman.h>
#include <time.h>

#include <chrono>

#include <shmkit/core/error.hpp>
#include <shmkit/core/process.hpp>
#include <shmkit/core/segment.hpp>

#include "store/client/store_connection.hpp"

namespace shmkit::detail {

namespace {

std::int64_t now_unix_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);  // vDSO: no system call
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A name operation of this client (see StoreConnection::read_name): the
// counters the server reads before it reuses a dropped name's cell.
class NameOp {
 public:
  explicit NameOp(ClientSlot& slot) noexcept : slot_(slot) {
    slot_.name_ops_begun.fetch_add(1, std::memory_order_seq_cst);
  }
  NameOp(const NameOp&) = delete;
  NameOp& operator=(const NameOp&) = delete;
  ~NameOp() { slot_.name_ops_ended.fetch_add(1, std::memory_order_seq_cst); }

 private:
  ClientSlot& slot_;
};

ExistsError exists(const ObjectId& id) {
  return ExistsError("object " + id.hex() + " already exists; ids are write-once, remove it first or use another id");
}

}  // namespace

std::uint64_t StoreConnection::ring_space_locked() const noexcept {
  const ArenaView& v = arena_.view();
  const ClientSlot& slot = v.client(client_slot_);
  const std::uint64_t used =
      slot.ring_head.load(std::memory_order_relaxed) - slot.ring_tail.load(std::memory_order_acquire);
  const std::uint64_t records = v.header().ring_records;
  return used >= records ? 0 : records - used;
}

void StoreConnection::publish_locked(std::uint32_t kind, std::uint32_t index, std::uint32_t generation,
                                     std::uint32_t cell) noexcept {
  const ArenaView& v = arena_.view();
  ClientSlot& slot = v.client(client_slot_);
  const std::uint64_t head = slot.ring_head.load(std::memory_order_relaxed);
  PublishRecord& record = v.ring(client_slot_)[head % v.header().ring_records];
  record.kind.store(kind, std::memory_order_relaxed);
  record.index.store(index, std::memory_order_relaxed);
  record.generation.store(generation, std::memory_order_relaxed);
  record.cell.store(cell, std::memory_order_relaxed);
  slot.ring_head.store(head + 1, std::memory_order_seq_cst);
  // The server drains the rings on its own (RequestHandler::poll_timeout_ms);
  // it is rung only when someone waits for name events (the bridge, a
  // watcher): one send, no reply awaited, instead of up to kIdleDrainMs.
  if (kind == kPublishRebind && v.header().name_subscribers.load(std::memory_order_relaxed) != 0) {
    notify_locked(Request::drain_notice, 0, 0);
  }
}

bool StoreConnection::refill_locked() {
  if (refill_skip_ > 0) {
    --refill_skip_;
    return false;
  }
  const std::uint64_t bytes = decode_count_reply(request_locked(encode_bare_request(Request::slab)), "slab");
  if (bytes == 0) {
    refill_skip_ = 64;
    return false;
  }
  return true;
}

void StoreConnection::map_slab_locked(std::uint64_t slab_offset, std::uint64_t end) noexcept {
  // Pages about to be written are mapped ahead, a chunk per call, rather
  // than faulted one by one inside sets (~5 us each on a VM). A chunk, not
  // the slab: mapping a whole 1 MiB slab takes ~600 us, too long for one
  // set, and a slab lent at connect may never be written at all. Kernels
  // before 5.14 refuse the advice; the faults then stay.
  constexpr std::uint64_t kChunkGranules = (64 * 1024) / kStoreAlignment;
  if (slab_offset != mapped_slab_) {
    mapped_slab_ = slab_offset;
    mapped_end_ = 0;
  }
  const ArenaView& v = arena_.view();
  const std::uint64_t granules = v.header().slab_bytes / kStoreAlignment;
  if (end <= mapped_end_ || v.header().prefault != 0) {
    return;  // mapped already, or populated at connect
  }
  const std::uint64_t to = std::min(granules, std::max(end, mapped_end_ + kChunkGranules));
  const std::size_t page = page_size();
  const auto start = reinterpret_cast<std::uintptr_t>(v.data_rw() + slab_offset + mapped_end_ * kStoreAlignment);
  const std::uintptr_t first = start & ~(page - 1);
  const auto stop = reinterpret_cast<std::uintptr_t>(v.data_rw() + slab_offset + to * kStoreAlignment);
  (void)::madvise(reinterpret_cast<void*>(first), round_up(stop, page) - first, MADV_POPULATE_WRITE);
  mapped_end_ = to;
}

std::optional<std::uint64_t> StoreConnection::allocate_locked(std::uint64_t bytes) {
  ClientSlot& slot = arena_.view().client(client_slot_);
  const std::uint64_t granules = bytes / kStoreAlignment;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // A CAS, not a store: the server may recall the slab's rest at any time.
    std::uint64_t word = slot.slab_alloc.load(std::memory_order_seq_cst);
    while (slab_cursor(word) + granules <= slab_limit(word)) {
      const std::uint64_t cursor = slab_cursor(word);
      if (slot.slab_alloc.compare_exchange_weak(word, slab_word(cursor + granules, slab_limit(word)),
                                                std::memory_order_seq_cst)) {
        // A slab is lent at connect, on request (refill) or with the reply
        // to a bind through the server; its pages are mapped as it fills.
        const std::uint64_t slab_offset = slot.slab_offset.load(std::memory_order_relaxed);
        if (slab_offset != mapped_slab_ || cursor + granules > mapped_end_) {
          map_slab_locked(slab_offset, cursor + granules);
        }
        return slab_offset + cursor * kStoreAlignment;
      }
    }
    if (attempt == 1 || !refill_locked()) {
      break;
    }
  }
  return std::nullopt;
}

std::optional<StoreConnection::FastCreated> StoreConnection::fast_create_locked(const ObjectId& id,
                                                                                std::size_t data_size,
                                                                                std::size_t metadata_size,
                                                                                std::uint32_t kind) {
  const ArenaView& v = arena_.view();
  const ArenaHeader& h = v.header();
  const std::uint64_t need = round_up(std::max<std::uint64_t>(data_size + metadata_size, 1), kStoreAlignment);
  // Large objects would use up a slab in a few writes; a crowded index is
  // the server's to refuse with its message.
  // The object count lags by what this client published and the server
  // has not drained yet, so those count too.
  const std::uint64_t records = h.ring_records;
  const std::uint64_t space = ring_space_locked();
  const std::uint64_t objects = h.objects.load(std::memory_order_relaxed) + (records - space);
  if (h.slab_bytes == 0 || broken_ || data_size > h.capacity || need > h.slab_bytes / 4 || space < 2 ||
      (objects + 1) * 4 > v.slots() * 3) {
    return std::nullopt;
  }
  if (v.find(id).index != v.slots()) {
    throw exists(id);
  }
  const std::optional<std::uint64_t> offset = allocate_locked(need);
  if (!offset || *offset > h.capacity || need > h.capacity - *offset) {
    return std::nullopt;
  }
  // From here a failure leaves the bytes unused: the server frees them
  // when this client publishes its next object, or gives back its slab.
  const ArenaView::Found claimed = v.claim(id, client_slot_ + 1);
  if (claimed.index == v.slots()) {
    return std::nullopt;
  }
  const auto index = static_cast<std::uint32_t>(claimed.index);
  const std::uint32_t generation = ctl_generation(claimed.ctl);
  ObjectEntry& e = v.entry(index);
  ArenaView::write_id(e, id);
  e.owner.store(client_slot_ + 1, std::memory_order_relaxed);
  e.creator_pid = current_pid();
  e.data_offset = *offset;
  e.data_size = data_size;
  e.metadata_size = metadata_size;
  e.created_unix_ns = now_unix_ns();
  e.lru.store(h.lru_clock.load(std::memory_order_relaxed), std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (v.duplicate_of(id, index)) {
    ArenaView::write_id(e, ObjectId{});  // no lookup may match a freed entry
    e.ctl.store(make_ctl(generation + 1, kEntryTombstone), std::memory_order_seq_cst);
    throw exists(id);
  }
  publish_locked(kind, index, generation, 0);
  return FastCreated{{index, generation, claimed.ctl}, *offset};
}

bool StoreConnection::put_named_fast(std::string_view ns, std::string_view name, const ObjectId& id,
                                     std::span<const std::byte> data, std::span<const std::byte> metadata) {
  const ArenaView& v = arena_.view();
  if (v.header().slab_bytes == 0) {
    return false;
  }
  const std::lock_guard lock(mutex_);
  const NameOp op(v.client(client_slot_));
  // Published first binds are applied by the server in order, before any
  // request: while some are in flight, only their publisher may add more,
  // and no one swaps a cell (a swap could be undone by an earlier bind).
  const std::uint64_t in_flight = v.header().binds_in_flight.load(std::memory_order_seq_cst);
  if (in_flight != 0 && bind_owner(in_flight) != client_slot_ + 1) {
    return false;
  }
  std::uint64_t cell = 0;
  switch (names_.view().lookup(ns, name, cell)) {
    case NameLookup::unindexed:
      return false;
    case NameLookup::absent:
      return publish_bind_locked(ns, name, id, data, metadata);
    case NameLookup::found:
      break;
  }
  if (in_flight != 0 || cell >= cell_count_) {
    return false;
  }
  const std::optional<FastCreated> fast = fast_create_locked(id, data.size(), metadata.size(), kPublishAdoptNamed);
  if (!fast) {
    return false;
  }
  copy_object(v.data_rw() + fast->offset, data, metadata);
  // Sealed at once: it never enters created_ (a map insert and erase that
  // cost ~1.5 us when the set comes with cold caches, once per frame).
  try {
    seal_pending_locked(id, fast->pending);
  } catch (...) {
    publish_locked(kPublishDropNamed, fast->pending.index, fast->pending.generation, 0);
    throw;
  }
  // Readers see the old value or the new one: the cell changes in one
  // step, and the old value stays pinned until the server drains the ring.
  // The cell still belongs to this name: the server quarantines a dropped
  // name's cell until this operation has ended (name_cells.hpp).
  const std::uint64_t target = cell_target(fast->pending.index, fast->pending.generation);
  std::atomic<std::uint64_t>& word = cells_[cell];
  std::uint64_t seen = word.load(std::memory_order_seq_cst);
  while (seen != 0 && !word.compare_exchange_weak(seen, target, std::memory_order_seq_cst)) {
  }
  if (seen != 0) {
    publish_locked(kPublishRebind, fast->pending.index, fast->pending.generation, static_cast<std::uint32_t>(cell));
    return true;
  }
  // The name was dropped since the lookup: bind it through the server,
  // then let go of the hold on the value (the name holds it now).
  try {
    request_locked(encode_put_name(std::string(ns), std::string(name), id));
  } catch (...) {
    publish_locked(kPublishDropNamed, fast->pending.index, fast->pending.generation, 0);
    throw;
  }
  publish_locked(kPublishDropNamed, fast->pending.index, fast->pending.generation, 0);
  return true;
}

bool StoreConnection::publish_bind_locked(std::string_view ns, std::string_view name, const ObjectId& id,
                                          std::span<const std::byte> data, std::span<const std::byte> metadata) {
  const ArenaView& v = arena_.view();
  ArenaHeader& h = v.header();
  BindKeyArea& keys = v.bind_keys(client_slot_);
  if (binds_published_ - keys.handled.load(std::memory_order_acquire) >= kBindKeySlots) {
    return false;  // every key slot holds a bind the server has not read yet
  }
  const std::uint64_t me = client_slot_ + 1;
  // Take a share of the in-flight word: it makes every other process ask
  // the server about names until this bind is applied.
  std::uint64_t word = h.binds_in_flight.load(std::memory_order_seq_cst);
  do {
    if ((word != 0 && bind_owner(word) != me) || bind_count(word) >= kBindKeySlots ||
        h.names.load(std::memory_order_relaxed) + bind_count(word) >= h.cells) {
      return false;
    }
  } while (
      !h.binds_in_flight.compare_exchange_weak(word, bind_word(me, bind_count(word) + 1), std::memory_order_seq_cst));
  // Bound by a request another process sent before the share was taken:
  // that name is a rebind now, which must wait for the binds in flight.
  std::uint64_t cell = 0;
  if (names_.view().lookup(ns, name, cell) != NameLookup::absent) {
    release_bind_share_locked();
    return false;
  }
  std::optional<FastCreated> fast;
  try {
    fast = fast_create_locked(id, data.size(), metadata.size(), kPublishAdoptNamed);
    if (fast) {
      copy_object(v.data_rw() + fast->offset, data, metadata);
      seal_pending_locked(id, fast->pending);
    }
  } catch (...) {
    if (fast) {
      // The seal failed (the object was removed by id meanwhile): let go
      // of the server's hold on it.
      publish_locked(kPublishDropNamed, fast->pending.index, fast->pending.generation, 0);
    }
    release_bind_share_locked();
    throw;
  }
  if (!fast) {
    release_bind_share_locked();
    return false;
  }
  BindKey& key = keys.keys[binds_published_ % kBindKeySlots];
  key.ns_size = static_cast<std::uint32_t>(ns.size());
  key.name_size = static_cast<std::uint32_t>(name.size());
  std::memcpy(key.key, ns.data(), ns.size());
  std::memcpy(key.key + ns.size(), name.data(), name.size());
  publish_locked(kPublishBind, fast->pending.index, fast->pending.generation,
                 static_cast<std::uint32_t>(binds_published_ % kBindKeySlots));
  ++binds_published_;
  // A get_name waiting for this name, or a name subscriber, is answered
  // at the next drain: ring the server so that is now.
  if (h.name_getters.load(std::memory_order_seq_cst) != 0 || h.name_subscribers.load(std::memory_order_relaxed) != 0) {
    notify_locked(Request::drain_notice, 0, 0);
  }
  return true;
}

void StoreConnection::release_bind_share_locked() noexcept {
  std::atomic<std::uint64_t>& in_flight = arena_.view().header().binds_in_flight;
  std::uint64_t word = in_flight.load(std::memory_order_seq_cst);
  // The word is this client's while it holds a share: only the server
  // (lowering it for binds it applied) changes it meanwhile.
  while (bind_owner(word) == client_slot_ + 1 && bind_count(word) != 0) {
    const std::uint64_t next = bind_count(word) == 1 ? 0 : word - 1;
    if (in_flight.compare_exchange_weak(word, next, std::memory_order_seq_cst)) {
      return;
    }
  }
}

void StoreConnection::await_published() noexcept {
  const ClientSlot& slot = arena_.view().client(client_slot_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  // The server drains on its own within kIdleDrainMs; ringing it makes the
  // wait a round trip's.
  if (slot.ring_tail.load(std::memory_order_acquire) != slot.ring_head.load(std::memory_order_relaxed)) {
    const std::lock_guard lock(mutex_);
    notify_locked(Request::drain_notice, 0, 0);
  }
  while (slot.ring_tail.load(std::memory_order_acquire) != slot.ring_head.load(std::memory_order_relaxed) &&
         std::chrono::steady_clock::now() < deadline) {
    ::sched_yield();
  }
}

StoreConnection::NameRead StoreConnection::read_name(const std::shared_ptr<StoreConnection>& self, std::string_view ns,
                                                     std::string_view name, ObjectBuffer* out, ObjectId* id) {
  const ArenaView& v = arena_.view();
  const std::lock_guard lock(mutex_);
  const NameOp op(v.client(client_slot_));
  // A first bind published and not applied yet may be this name's, or
  // rebind it: the server applies them before it answers.
  if (v.header().binds_in_flight.load(std::memory_order_seq_cst) != 0) {
    return NameRead::ask_server;
  }
  std::uint64_t cell = 0;
  switch (names_.view().lookup(ns, name, cell)) {
    case NameLookup::absent:
      return NameRead::absent;
    case NameLookup::unindexed:
      return NameRead::ask_server;
    case NameLookup::found:
      break;
  }
  if (cell >= cell_count_) {
    return NameRead::ask_server;
  }
  const std::uint64_t target = cells_[cell].load(std::memory_order_seq_cst);
  if (target == 0) {
    return NameRead::absent;  // being dropped
  }
  const std::uint32_t index = target_index(target);
  const std::uint32_t generation = target_generation(target);
  if (index >= v.slots()) {
    return NameRead::moved;  // a damaged cell: the caller asks the server after a few
  }
  if (out != nullptr) {
    return lease_sealed_locked(self, index, generation, nullptr, *out) ? NameRead::got : NameRead::moved;
  }
  const ObjectEntry& e = v.entry(index);
  const std::uint64_t sealed = make_ctl(generation, kEntrySealed);
  if (e.ctl.load(std::memory_order_seq_cst) != sealed) {
    return NameRead::moved;
  }
  const ObjectId read = ArenaView::read_id(e);
  // Still the same object after the read: the id words were not rewritten.
  std::atomic_thread_fence(std::memory_order_acquire);
  if (e.ctl.load(std::memory_order_relaxed) != sealed) {
    return NameRead::moved;
  }
  *id = read;
  return NameRead::got;
}

}  // namespace shmkit::detail
