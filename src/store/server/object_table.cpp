#include "store/server/object_table.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/detail/futex.hpp"

namespace shmkit::detail {

namespace {

std::string exists_message(const ObjectId& id) {
  return "object " + id.hex() + " already exists; ids are write-once, remove it first or use another id";
}

std::int64_t now_unix_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ObjectTable::ObjectTable(const ArenaView& view, std::function<void(const StoreEvent&)> emit,
                         std::function<bool(const ObjectRecord&)> spill)
    : view_(view),
      emit_(std::move(emit)),
      spill_(std::move(spill)),
      free_list_(view.header().capacity, kStoreAlignment),
      slots_(view.slots()) {}

ObjectRecord ObjectTable::record_of(std::uint32_t index) const noexcept {
  const Slot& slot = slots_[index];
  const ObjectEntry& e = view_.entry(index);
  const std::byte* base = view_.data_rw() + slot.offset;
  return ObjectRecord{
      slot.id, {base, slot.data_size}, {base + slot.data_size, slot.metadata_size}, e.creator_pid, e.created_unix_ns};
}

std::optional<ObjectRecord> ObjectTable::sealed_record(const ObjectId& id) const noexcept {
  const auto it = by_id_.find(id);
  if (it == by_id_.end() || state(it->second) != kEntrySealed) {
    return std::nullopt;
  }
  return record_of(it->second);
}

std::byte* ObjectTable::data_of(std::uint32_t index) const noexcept {
  return view_.data_rw() + slots_[index].offset;
}

void ObjectTable::seal_created(std::uint32_t index, pid_t creator, std::int64_t created_unix_ns) {
  ObjectEntry& e = view_.entry(index);
  if (creator != 0) {
    e.creator_pid = creator;
    e.created_unix_ns = created_unix_ns;
  }
  auto& h = view_.header();
  e.lru.store(h.lru_clock.fetch_add(1, std::memory_order_relaxed), std::memory_order_relaxed);
  e.ctl.store(make_ctl(slots_[index].generation, kEntrySealed), std::memory_order_seq_cst);
  wake_getters();
  announce(index);
}

std::uint32_t ObjectTable::state(std::uint32_t index) const noexcept {
  return ctl_state(view_.entry(index).ctl.load(std::memory_order_seq_cst));
}

bool ObjectTable::referenced(std::uint32_t index) const noexcept {
  if (slots_[index].names != 0) {
    return true;
  }
  const std::uint64_t key = lease_key(slots_[index].generation, index);
  const auto& h = view_.header();
  for (std::uint64_t c = 0; c < h.max_clients; ++c) {
    const ClientSlot& client = view_.client(c);
    if (client.in_use.load(std::memory_order_seq_cst) == 0) {
      continue;
    }
    const std::uint64_t high =
        std::min<std::uint64_t>(client.lease_high.load(std::memory_order_seq_cst), h.leases_per_client);
    const LeaseRecord* leases = view_.leases(c);
    for (std::uint64_t l = 0; l < high; ++l) {
      if (leases[l].count.load(std::memory_order_seq_cst) != 0 &&
          leases[l].key.load(std::memory_order_seq_cst) == key) {
        return true;
      }
    }
  }
  return false;
}

void ObjectTable::wake_getters() noexcept {
  auto& h = view_.header();
  h.seal_seq.fetch_add(1, std::memory_order_seq_cst);
  if (h.waiters.load(std::memory_order_seq_cst) != 0) {
    futex_wake_all(h.seal_seq);
  }
}

Status ObjectTable::create(const ObjectId& id, std::uint64_t data_size, std::uint64_t metadata_size, pid_t creator,
                           std::uint64_t owner, Created& out, std::string& error) {
  const std::uint64_t capacity = view_.header().capacity;
  if (data_size > capacity || metadata_size > capacity - data_size) {
    error = "object " + id.hex() + " needs " + std::to_string(data_size + metadata_size) +
            " B, more than the store's capacity of " + std::to_string(capacity) + " B; start it with a larger -m";
    return Status::full;
  }
  if (by_id_.contains(id)) {
    error = exists_message(id);
    return Status::exists;
  }
  if ((live_ + 1) * 4 > view_.slots() * 3) {
    error =
        "the store index is full (" + std::to_string(live_) + " objects); start the store with a larger --max-objects";
    return Status::failed;
  }
  const std::uint64_t need = data_size + metadata_size;
  auto offset = free_list_.allocate(need);
  if (!offset && reclaim_unwritten_ && reclaim_unwritten_() != 0) {
    offset = free_list_.allocate(need);
  }
  for (bool rebuilt = false; !offset;) {
    const std::optional<std::uint32_t> victim = pop_lru();
    if (!victim) {
      if (rebuilt) {
        break;
      }
      rebuild_lru();
      rebuilt = true;
    } else if (try_free_sealed(*victim)) {
      offset = free_list_.allocate(need);
    }
  }
  if (!offset && reclaim_ && reclaim_() != 0) {
    offset = free_list_.allocate(need);
  }
  if (!offset) {
    error = "the store has no room for object " + id.hex() + " (" + std::to_string(need) + " B; " +
            std::to_string(view_.header().used.load()) + " of " + std::to_string(capacity) +
            " B in use by objects that are referenced or unsealed); release or remove some";
    return Status::full;
  }
  // Clients claim slots too (client-side writes), so the slot is taken
  // with a CAS, and an id a client is creating at this moment is caught
  // by the duplicate check after the id is written.
  const ArenaView::Found claimed = view_.claim(id, 0);
  if (claimed.index == view_.slots()) {
    free_list_.free(*offset, need);
    error = "the store index has no free slot for object " + id.hex() + "; start the store with a larger --max-objects";
    return Status::failed;
  }
  const auto index = static_cast<std::uint32_t>(claimed.index);
  auto& h = view_.header();
  Slot& slot = slots_[index];
  slot = Slot{id,        *offset,       free_list_.rounded(need == 0 ? 1 : need),
              data_size, metadata_size, ctl_generation(claimed.ctl),
              owner,     true,          false,
              0};
  ObjectEntry& e = view_.entry(index);
  ArenaView::write_id(e, id);
  e.owner.store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (view_.duplicate_of(id, index)) {
    slot.live = false;
    discard(index, claimed.ctl);
    free_list_.free(*offset, need);
    error = exists_message(id);
    return Status::exists;
  }
  e.creator_pid = creator;
  e.data_offset = slot.offset;
  e.data_size = data_size;
  e.metadata_size = metadata_size;
  e.created_unix_ns = now_unix_ns();
  e.lru.store(h.lru_clock.fetch_add(1, std::memory_order_relaxed), std::memory_order_relaxed);
  by_id_.emplace(id, index);
  ++live_;
  h.used.fetch_add(slot.allocated, std::memory_order_relaxed);
  h.objects.fetch_add(1, std::memory_order_relaxed);
  out = {index, slot.generation, slot.offset};
  return Status::ok;
}

void ObjectTable::free_slot(std::uint32_t index) {
  Slot& slot = slots_[index];
  // The generation bump makes every lease and cached lookup of the old
  // object stale before the slot can be reused.
  ++slot.generation;
  // Cleared first, so no lookup of this id matches the slot once a client
  // claims it and before it writes its own id.
  ArenaView::write_id(view_.entry(index), ObjectId{});
  view_.entry(index).ctl.store(make_ctl(slot.generation, kEntryTombstone), std::memory_order_seq_cst);
  free_list_.free(slot.offset, slot.allocated);
  auto& h = view_.header();
  h.used.fetch_sub(slot.allocated, std::memory_order_relaxed);
  h.objects.fetch_sub(1, std::memory_order_relaxed);
  by_id_.erase(slot.id);
  doomed_.erase(index);
  slot.live = false;
  slot.announced = false;
  --live_;
  // A tombstone followed by an empty slot ends every probe chain that
  // reaches it anyway, so it (and tombstones before it) can become empty,
  // which keeps lookups of missing ids short. Not while clients claim slots
  // themselves: a claim racing this could land behind a slot just emptied,
  // where lookups stop (ArenaView::claim); tombstones are reused instead.
  if (view_.header().slab_bytes != 0) {
    return;
  }
  const std::uint64_t n = view_.slots();
  if (state(static_cast<std::uint32_t>((index + 1) & (n - 1))) != kEntryEmpty) {
    return;
  }
  // The generation is the control word's: a claim the server discarded
  // (create's duplicate check) moved it past this table's record.
  std::uint64_t i = index;
  for (std::uint64_t steps = 0; steps < n; ++steps) {
    const std::uint64_t ctl = view_.entry(i).ctl.load(std::memory_order_seq_cst);
    if (ctl_state(ctl) != kEntryTombstone) {
      break;
    }
    view_.entry(i).ctl.store(make_ctl(ctl_generation(ctl), kEntryEmpty), std::memory_order_seq_cst);
    i = (i + n - 1) & (n - 1);
  }
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> ObjectTable::adopt(std::uint32_t index, std::uint32_t generation,
                                                                          std::uint64_t owner, std::uint64_t lo,
                                                                          std::uint64_t hi) {
  if (index >= slots_.size() || slots_[index].live) {
    return std::nullopt;
  }
  ObjectEntry& e = view_.entry(index);
  const std::uint64_t ctl = e.ctl.load(std::memory_order_seq_cst);
  if (ctl_generation(ctl) != generation || (ctl_state(ctl) != kEntryCreated && ctl_state(ctl) != kEntrySealed)) {
    return std::nullopt;
  }
  // Read once: the client may still scribble on the entry, and only these
  // values are checked and kept.
  const std::uint64_t offset = e.data_offset;
  const std::uint64_t data_size = e.data_size;
  const std::uint64_t metadata_size = e.metadata_size;
  const ObjectId id = ArenaView::read_id(e);
  const std::uint64_t capacity = view_.header().capacity;
  if (data_size > capacity || metadata_size > capacity - data_size) {
    return std::nullopt;
  }
  const std::uint64_t need = data_size + metadata_size;
  const std::uint64_t allocated = free_list_.rounded(need == 0 ? 1 : need);
  if (offset % kStoreAlignment != 0 || offset < lo || offset > hi || allocated > hi - offset || by_id_.contains(id)) {
    return std::nullopt;
  }
  slots_[index] = Slot{id, offset, allocated, data_size, metadata_size, generation, owner, true, false, 0};
  by_id_.emplace(id, index);
  ++live_;
  view_.header().used.fetch_add(allocated, std::memory_order_relaxed);
  view_.header().objects.fetch_add(1, std::memory_order_relaxed);
  return std::pair{offset, offset + allocated};
}

void ObjectTable::discard(std::uint32_t index, std::uint64_t ctl) noexcept {
  // The generation bump keeps a lease on the discarded entry from matching
  // whatever takes the slot next.
  std::uint64_t expected = ctl;
  view_.entry(index).ctl.compare_exchange_strong(expected, make_ctl(ctl_generation(ctl) + 1, kEntryTombstone),
                                                 std::memory_order_seq_cst);
  wake_getters();
}

std::optional<ObjectId> ObjectTable::id_at(std::uint32_t index, std::uint32_t generation, bool sealed) const noexcept {
  if (index >= slots_.size() || !slots_[index].live || slots_[index].generation != generation ||
      (sealed && state(index) != kEntrySealed)) {
    return std::nullopt;
  }
  return slots_[index].id;
}

bool ObjectTable::intact(std::uint32_t index) const noexcept {
  const Slot& slot = slots_[index];
  const ObjectEntry& e = view_.entry(index);
  return slot.live && e.data_offset == slot.offset && e.data_size == slot.data_size &&
         e.metadata_size == slot.metadata_size && ArenaView::id_matches(e, slot.id);
}

void ObjectTable::repair_entries() noexcept {
  for (const auto& [id, index] : by_id_) {
    const Slot& slot = slots_[index];
    if (intact(index)) {
      continue;
    }
    ObjectEntry& e = view_.entry(index);
    ArenaView::write_id(e, slot.id);
    e.data_offset = slot.offset;
    e.data_size = slot.data_size;
    e.metadata_size = slot.metadata_size;
  }
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> ObjectTable::where(const ObjectId& id) const noexcept {
  const auto it = by_id_.find(id);
  if (it == by_id_.end()) {
    return std::nullopt;
  }
  return std::pair{it->second, slots_[it->second].generation};
}

std::optional<std::uint64_t> ObjectTable::lend(std::uint64_t bytes) {
  return free_list_.allocate(bytes);
}

void ObjectTable::give_back(std::uint64_t offset, std::uint64_t bytes) {
  if (bytes != 0) {
    free_list_.free(offset, bytes);
  }
}

bool ObjectTable::try_free_sealed(std::uint32_t index) {
  ObjectEntry& e = view_.entry(index);
  std::uint64_t expected = make_ctl(slots_[index].generation, kEntrySealed);
  if (!e.ctl.compare_exchange_strong(expected, make_ctl(slots_[index].generation, kEntryFreeing),
                                     std::memory_order_seq_cst)) {
    return false;
  }
  // An object that cannot be spilled is not evicted: with a spill
  // directory, eviction must never lose data.
  if (referenced(index) || (spill_ && !spill_(record_of(index)))) {
    e.ctl.store(make_ctl(slots_[index].generation, kEntrySealed), std::memory_order_seq_cst);
    wake_getters();  // a get that saw `freeing` may be waiting for this
    return false;
  }
  announce_removed(index);
  free_slot(index);
  return true;
}

void ObjectTable::rebuild_lru() {
  lru_queue_.clear();
  lru_next_ = 0;
  for (const auto& [id, index] : by_id_) {
    if (state(index) == kEntrySealed && slots_[index].names == 0) {
      lru_queue_.push_back({view_.entry(index).lru.load(std::memory_order_relaxed), index, slots_[index].generation});
    }
  }
  std::sort(lru_queue_.begin(), lru_queue_.end(), [](const Candidate& a, const Candidate& b) { return a.lru < b.lru; });
}

std::optional<std::uint32_t> ObjectTable::pop_lru() noexcept {
  while (lru_next_ < lru_queue_.size()) {
    const Candidate c = lru_queue_[lru_next_++];
    const Slot& slot = slots_[c.index];
    if (slot.live && slot.generation == c.generation && state(c.index) == kEntrySealed &&
        view_.entry(c.index).lru.load(std::memory_order_relaxed) == c.lru) {
      return c.index;
    }
  }
  return std::nullopt;
}

std::uint64_t ObjectTable::evict(std::uint64_t bytes) {
  std::uint64_t freed = 0;
  rebuild_lru();
  while (freed < bytes) {
    const std::optional<std::uint32_t> victim = pop_lru();
    if (!victim) {
      break;
    }
    const std::uint64_t size = slots_[*victim].allocated;
    if (try_free_sealed(*victim)) {
      freed += size;
    }
  }
  return freed;
}

Status ObjectTable::abort(const ObjectId& id, std::uint64_t owner, std::string& error) {
  const auto it = by_id_.find(id);
  if (it == by_id_.end() || state(it->second) != kEntryCreated) {
    error = "object " + id.hex() + " is not an unsealed object; only objects created and not yet sealed can be aborted";
    return Status::not_found;
  }
  if (slots_[it->second].owner != owner) {
    error = "object " + id.hex() + " was created by another client; only its creator can abort it";
    return Status::denied;
  }
  free_slot(it->second);
  return Status::ok;
}

void ObjectTable::abort_index(std::uint32_t index) {
  if (slots_[index].live && state(index) == kEntryCreated) {
    free_slot(index);
  }
}

Status ObjectTable::remove(const ObjectId& id, bool& deferred, std::string& error) {
  deferred = false;
  const auto it = by_id_.find(id);
  const std::uint32_t s = it == by_id_.end() ? kEntryEmpty : state(it->second);
  if (s == kEntryCreated) {
    error = "object " + id.hex() + " is not sealed yet; its creator must seal or abort it first";
    return Status::denied;
  }
  if (s != kEntrySealed) {
    error = "no sealed object " + id.hex() + " in the store";
    return Status::not_found;
  }
  const std::uint32_t index = it->second;
  if (slots_[index].names != 0) {
    error = "object " + id.hex() + " is bound to " + std::to_string(slots_[index].names) +
            " name(s); drop them (drop_name, remove_namespace) and it goes with the last one";
    return Status::denied;
  }
  ObjectEntry& e = view_.entry(index);
  e.ctl.store(make_ctl(slots_[index].generation, kEntryDoomed), std::memory_order_seq_cst);
  announce_removed(index);
  if (referenced(index)) {
    doomed_.insert(index);
    deferred = true;
  } else {
    free_slot(index);
  }
  return Status::ok;
}

Status ObjectTable::pin(const ObjectId& id, std::string& error) {
  const auto it = by_id_.find(id);
  if (it == by_id_.end() || state(it->second) != kEntrySealed) {
    error = "no sealed object " + id.hex() + " in the store; only sealed objects can be named";
    return Status::not_found;
  }
  ++slots_[it->second].names;
  return Status::ok;
}

void ObjectTable::unpin(const ObjectId& id) {
  const auto it = by_id_.find(id);
  if (it == by_id_.end() || slots_[it->second].names == 0) {
    return;  // cannot happen: a pinned object cannot be removed or evicted
  }
  if (--slots_[it->second].names == 0) {
    bool deferred = false;
    std::string error;
    remove(id, deferred, error);
  }
}

void ObjectTable::recheck_doomed() {
  std::vector<std::uint32_t> ready;
  for (const std::uint32_t index : doomed_) {
    if (!referenced(index)) {
      ready.push_back(index);
    }
  }
  for (const std::uint32_t index : ready) {
    free_slot(index);
  }
}

void ObjectTable::drop_owner(std::uint64_t owner) {
  std::vector<std::uint32_t> unsealed;
  for (const auto& [id, index] : by_id_) {
    if (slots_[index].owner == owner && state(index) == kEntryCreated) {
      unsealed.push_back(index);
    }
  }
  for (const std::uint32_t index : unsealed) {
    free_slot(index);
  }
}

std::vector<ObjectInfo> ObjectTable::list() const {
  std::unordered_map<std::uint64_t, std::uint32_t> refs;
  const auto& h = view_.header();
  for (std::uint64_t c = 0; c < h.max_clients; ++c) {
    if (view_.client(c).in_use.load() == 0) {
      continue;
    }
    const std::uint64_t high = std::min<std::uint64_t>(view_.client(c).lease_high.load(), h.leases_per_client);
    for (std::uint64_t l = 0; l < high; ++l) {
      const LeaseRecord& lease = view_.leases(c)[l];
      if (const std::uint32_t count = lease.count.load(); count != 0) {
        refs[lease.key.load()] += count;
      }
    }
  }
  std::vector<ObjectInfo> infos;
  for (const auto& [id, index] : by_id_) {
    const std::uint32_t s = state(index);
    if (s != kEntryCreated && s != kEntrySealed && s != kEntryFreeing) {
      continue;
    }
    const Slot& slot = slots_[index];
    const ObjectEntry& e = view_.entry(index);
    const auto ref = refs.find(lease_key(slot.generation, index));
    infos.push_back(ObjectInfo{id, slot.data_size, slot.metadata_size,
                               s == kEntryCreated ? ObjectState::created : ObjectState::sealed,
                               ref == refs.end() ? 0 : ref->second, e.created_unix_ns, e.creator_pid});
  }
  std::sort(infos.begin(), infos.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.created_unix_ns < b.created_unix_ns; });
  return infos;
}

void ObjectTable::announce(std::uint32_t index) {
  Slot& slot = slots_[index];
  if (!slot.announced) {
    slot.announced = true;
    if (view_.header().subscribers.load(std::memory_order_seq_cst) != 0) {
      emit_(StoreEvent{StoreEvent::Kind::sealed, slot.id, slot.data_size, slot.metadata_size, {}, {}});
    }
  }
}

void ObjectTable::announce_removed(std::uint32_t index) {
  // A removal can overtake the sealer's notice (they arrive on different
  // sockets): subscribers must still see sealed before removed.
  announce(index);
  const Slot& slot = slots_[index];
  if (view_.header().subscribers.load(std::memory_order_seq_cst) != 0) {
    emit_(StoreEvent{StoreEvent::Kind::removed, slot.id, slot.data_size, slot.metadata_size, {}, {}});
  }
}

void ObjectTable::sealed_notice(std::uint32_t index, std::uint32_t generation) {
  if (index >= slots_.size() || !slots_[index].live || slots_[index].generation != generation) {
    return;  // stale or bogus: the object has gone, or never was
  }
  if (state(index) == kEntrySealed) {
    announce(index);
  }
}

std::vector<StoreEvent> ObjectTable::snapshot() {
  std::vector<std::pair<std::int64_t, std::uint32_t>> sealed;
  for (const auto& [id, index] : by_id_) {
    if (state(index) == kEntrySealed) {
      sealed.emplace_back(view_.entry(index).created_unix_ns, index);
    }
  }
  std::sort(sealed.begin(), sealed.end());
  std::vector<StoreEvent> events;
  for (const auto& [time, index] : sealed) {
    announce(index);
    const Slot& slot = slots_[index];
    events.push_back(StoreEvent{StoreEvent::Kind::sealed, slot.id, slot.data_size, slot.metadata_size, {}, {}});
  }
  return events;
}

}  // namespace shmkit::detail
