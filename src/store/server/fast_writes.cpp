#include "store/server/fast_writes.hpp"

#include <algorithm>
#include <cstring>
#include <tuple>

namespace shmkit::detail {

FastWrites::FastWrites(const ArenaView& view, ObjectTable& table)
    : view_(view),
      table_(table),
      slab_granules_(view.header().slab_bytes / kStoreAlignment),
      slabs_(view.header().max_clients) {}

void FastWrites::give_back(Slab& slab, std::uint64_t from, std::uint64_t to) {
  if (from < to) {
    table_.give_back(slab.offset + from * kStoreAlignment, (to - from) * kStoreAlignment);
  }
}

std::uint64_t FastWrites::freeze(std::uint64_t slot) noexcept {
  // Clearing the limit stops the client's next allocation (its cursor is
  // then past the limit) in one wait-free step, whatever it writes there.
  return clamped_cursor(
      slot, view_.client(slot).slab_alloc.fetch_and(~std::uint64_t{0xffffffffU}, std::memory_order_seq_cst));
}

std::uint64_t FastWrites::clamped_cursor(std::uint64_t slot, std::uint64_t word) const noexcept {
  // A cursor the client wrote past what was lent (or below what was
  // adopted) is clamped: the server's own record bounds what it frees.
  const Slab& slab = slabs_[slot];
  return std::clamp(slab_cursor(word), slab.adopted_end, slab.freed_from);
}

bool FastWrites::refill(std::uint64_t slot, std::uint64_t connection) {
  if (!enabled() || slot >= slabs_.size()) {
    return false;
  }
  if (slabs_[slot].lent) {
    freeze(slot);
    retire(slot);
  }
  const std::uint64_t bytes = slab_granules_ * kStoreAlignment;
  std::optional<std::uint64_t> offset = table_.lend(bytes);
  // A full store in service takes back the slabs nobody wrote in, then
  // evicts for a slab as a create would for an object, a slab's worth at
  // once; freed bytes that do not join into one extent leave the client on
  // the server's path.
  if (!offset && recall_unwritten() != 0) {
    offset = table_.lend(bytes);
  }
  if (!offset && table_.evict(bytes) >= bytes) {
    offset = table_.lend(bytes);
  }
  if (!offset) {
    return false;
  }
  lend(slot, connection, *offset);
  return true;
}

void FastWrites::lend_to_writer(std::uint64_t slot, std::uint64_t connection) {
  if (!enabled() || slot >= slabs_.size() || slabs_[slot].lent) {
    return;
  }
  // Free room only: evicting for a slab nobody asked for yet would be
  // premature; the client asks (refill) when it needs one.
  if (const std::optional<std::uint64_t> offset = table_.lend(slab_granules_ * kStoreAlignment)) {
    lend(slot, connection, *offset);
  }
}

void FastWrites::lend(std::uint64_t slot, std::uint64_t connection, std::uint64_t offset) {
  Slab& slab = slabs_[slot];
  slab.lent = true;
  slab.connection = connection;
  slab.offset = offset;
  slab.granules = slab_granules_;
  slab.adopted_end = 0;
  slab.freed_from = slab_granules_;
  ++lent_;
  ClientSlot& client = view_.client(slot);
  client.slab_offset.store(offset, std::memory_order_relaxed);
  client.slab_alloc.store(slab_word(0, slab_granules_), std::memory_order_seq_cst);
}

void FastWrites::retire(std::uint64_t slot) {
  Slab& slab = slabs_[slot];
  give_back(slab, slab.adopted_end, slab.freed_from);
  slab.lent = false;
  slab.adopted_end = slab.freed_from = slab.granules = 0;
  --lent_;
  ClientSlot& client = view_.client(slot);
  client.slab_alloc.store(0, std::memory_order_seq_cst);
  client.slab_offset.store(0, std::memory_order_relaxed);
}

std::size_t FastWrites::drain_all(const Hooks& hooks) {
  std::size_t handled = 0;
  for (std::uint64_t slot = 0; slot < slabs_.size(); ++slot) {
    const ClientSlot& client = view_.client(slot);
    // seq_cst, not acquire: a get_name that waits raises name_getters and
    // then drains, a publisher stores its head and then reads name_getters;
    // one of the two must see the other.
    const std::uint64_t head = client.ring_head.load(std::memory_order_seq_cst);
    const std::uint64_t tail = client.ring_tail.load(std::memory_order_relaxed);
    if (head != tail) {
      handled += head - tail;
      drain(slot, hooks);
    }
  }
  return handled;
}

void FastWrites::drain(std::uint64_t slot, const Hooks& hooks) {
  ClientSlot& client = view_.client(slot);
  const std::uint64_t records = view_.header().ring_records;
  const std::uint64_t head = client.ring_head.load(std::memory_order_acquire);
  std::uint64_t tail = client.ring_tail.load(std::memory_order_relaxed);
  if (head - tail > records) {
    // Only a client writing garbage gets here: its ring is dropped.
    client.ring_tail.store(head, std::memory_order_release);
    if (slabs_[slot].lent) {
      hooks.misbehaved(slabs_[slot].connection);
    }
    return;
  }
  const PublishRecord* ring = view_.ring(slot);
  for (; tail != head; ++tail) {
    const PublishRecord& r = ring[tail % records];
    bool ok = false;
    try {
      ok = handle(slot, r.kind.load(std::memory_order_relaxed), r.index.load(std::memory_order_relaxed),
                  r.generation.load(std::memory_order_relaxed), r.cell.load(std::memory_order_relaxed), hooks);
    } catch (...) {
      // Out of memory: the records handled so far, this one included, are
      // not handled again at the next drain.
      client.ring_tail.store(tail + 1, std::memory_order_release);
      throw;
    }
    if (!ok && slabs_[slot].lent) {
      hooks.misbehaved(slabs_[slot].connection);
    }
  }
  client.ring_tail.store(tail, std::memory_order_release);
}

bool FastWrites::handle(std::uint64_t slot, std::uint32_t kind, std::uint32_t index, std::uint32_t generation,
                        std::uint32_t cell, const Hooks& hooks) {
  if (!slabs_[slot].lent) {
    return false;  // records come only from a client that holds a slab
  }
  switch (kind) {
    case kPublishAdopt:
    case kPublishAdoptNamed:
      return adopt(slot, index, generation, kind == kPublishAdoptNamed);
    case kPublishRebind:
      if (cell >= view_.header().cells) {
        return false;
      }
      hooks.rebind(cell);
      drop_held(slot, cell_target(index, generation));
      return true;
    case kPublishDropNamed:
      drop_held(slot, cell_target(index, generation));
      return true;
    case kPublishBind:
      return bind(slot, index, generation, cell, hooks);
    default:
      return false;
  }
}

bool FastWrites::adopt(std::uint64_t slot, std::uint32_t index, std::uint32_t generation, bool hold) {
  Slab& slab = slabs_[slot];
  if (index >= view_.slots() || view_.entry(index).owner.load(std::memory_order_relaxed) != slot + 1) {
    return false;
  }
  const std::uint64_t cursor = clamped_cursor(slot, view_.client(slot).slab_alloc.load(std::memory_order_seq_cst));
  const std::uint64_t lo = slab.offset + slab.adopted_end * kStoreAlignment;
  const std::uint64_t hi = slab.offset + cursor * kStoreAlignment;
  const auto extent = table_.adopt(index, generation, slab.connection, lo, hi);
  if (!extent) {
    // Discarded only when it claims bytes of this client's slab: an entry
    // another client is writing, which this one marked as its own, stays.
    const ObjectEntry& e = view_.entry(index);
    const std::uint64_t ctl = e.ctl.load(std::memory_order_seq_cst);
    const std::uint64_t start = e.data_offset;
    const bool in_slab = start >= slab.offset && start - slab.offset < slab.granules * kStoreAlignment;
    if (in_slab && ctl_generation(ctl) == generation && !table_.adopted(index)) {
      table_.discard(index, ctl);
    }
    return false;
  }
  // Bytes the client skipped (an allocation it abandoned) are free again.
  give_back(slab, slab.adopted_end, (extent->first - slab.offset) / kStoreAlignment);
  slab.adopted_end = (extent->second - slab.offset) / kStoreAlignment;
  if (hold) {
    table_.hold(index);
    held_.emplace(cell_target(index, generation), slot);
  }
  return true;
}

void FastWrites::drop_held(std::uint64_t slot, std::uint64_t target) {
  const auto it = held_.find(target);
  if (it == held_.end() || it->second != slot) {
    return;
  }
  held_.erase(it);
  if (const std::optional<ObjectId> id = table_.id_at(target_index(target), target_generation(target), false)) {
    table_.unpin(*id);  // removes the value unless a name holds it now
  }
}

bool FastWrites::bind(std::uint64_t slot, std::uint32_t index, std::uint32_t generation, std::uint32_t key,
                      const Hooks& hooks) {
  const std::uint64_t target = cell_target(index, generation);
  const auto it = held_.find(target);
  if (key >= kBindKeySlots || it == held_.end() || it->second != slot) {
    return false;  // only a value this client published for a name may be bound
  }
  // Copied before it is checked: the client could change it meanwhile.
  BindKeyArea& area = view_.bind_keys(slot);
  BindKey copy{};
  std::memcpy(&copy, &area.keys[key], sizeof(copy));
  area.handled.store(area.handled.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  if (copy.ns_size == 0 || copy.name_size == 0 || copy.ns_size > sizeof(copy.key) ||
      copy.name_size > sizeof(copy.key) - copy.ns_size) {
    return false;
  }
  const std::string ns(copy.key, copy.ns_size);
  const std::string name(copy.key + copy.ns_size, copy.name_size);
  const bool valid = hooks.bind(ns, name, index, generation);
  drop_held(slot, target);  // the name holds it now, or it goes
  // Lowered after the bind is in the index: a process that reads 0 here
  // finds the name there. Another client may have written the word (it is
  // shared): then there is nothing of this one's to lower, and the server
  // clears a word that names no client or stays up with nothing published.
  std::atomic<std::uint64_t>& in_flight = view_.header().binds_in_flight;
  std::uint64_t word = in_flight.load(std::memory_order_seq_cst);
  while (bind_owner(word) == slot + 1 && bind_count(word) != 0 &&
         !in_flight.compare_exchange_weak(word, bind_count(word) == 1 ? 0 : word - 1, std::memory_order_seq_cst)) {
  }
  return valid;
}

bool FastWrites::records_pending(std::uint64_t slot) const noexcept {
  const ClientSlot& client = view_.client(slot);
  return client.ring_head.load(std::memory_order_acquire) != client.ring_tail.load(std::memory_order_relaxed);
}

void FastWrites::recall(std::uint64_t slot) {
  if (slot >= slabs_.size() || !slabs_[slot].lent) {
    return;
  }
  Slab& slab = slabs_[slot];
  const std::uint64_t cursor = freeze(slot);
  if (cursor == 0 && slab.adopted_end == 0 && !records_pending(slot)) {
    retire(slot);  // never written: all of it goes back
    return;
  }
  give_back(slab, cursor, slab.freed_from);
  slab.freed_from = cursor;
}

void FastWrites::forget_binds(std::uint64_t slot) noexcept {
  std::atomic<std::uint64_t>& in_flight = view_.header().binds_in_flight;
  std::uint64_t word = in_flight.load(std::memory_order_seq_cst);
  while (bind_owner(word) == slot + 1 && !in_flight.compare_exchange_weak(word, 0, std::memory_order_seq_cst)) {
  }
}

void FastWrites::release_held(std::uint64_t slot) {
  std::vector<std::uint64_t> mine;
  for (const auto& [target, holder] : held_) {
    if (holder == slot) {
      mine.push_back(target);
    }
  }
  for (const std::uint64_t target : mine) {
    drop_held(slot, target);
  }
}

void FastWrites::adopt_orphans(std::uint64_t slot, std::uint64_t cursor) {
  // Entries claimed between the allocation and the ring record: only a
  // client killed in that window leaves them, so a full scan is rare.
  std::vector<std::tuple<std::uint64_t, std::uint32_t, std::uint64_t>> orphans;  // offset, index, ctl
  for (std::uint64_t i = 0; i < view_.slots(); ++i) {
    const ObjectEntry& e = view_.entry(i);
    const std::uint64_t ctl = e.ctl.load(std::memory_order_seq_cst);
    const std::uint32_t state = ctl_state(ctl);
    // A created entry carries its claimer in the control word (set by the
    // claim itself); a sealed one was sealed after its owner was written.
    const bool mine = (state == kEntryCreated && ctl_owner(ctl) == slot + 1) ||
                      (state == kEntrySealed && e.owner.load(std::memory_order_relaxed) == slot + 1);
    if (mine && !table_.adopted(static_cast<std::uint32_t>(i))) {
      orphans.emplace_back(e.data_offset, static_cast<std::uint32_t>(i), ctl);
    }
  }
  std::sort(orphans.begin(), orphans.end());
  Slab& slab = slabs_[slot];
  for (const auto& [offset, index, ctl] : orphans) {
    // A claim killed before it wrote the entry's fields cannot be adopted:
    // it is discarded, and its bytes (if any) are freed with the slab.
    if (slab.adopted_end >= cursor || !adopt(slot, index, ctl_generation(ctl), false)) {
      if (!table_.adopted(index)) {
        table_.discard(index, view_.entry(index).ctl.load(std::memory_order_seq_cst));
      }
    }
  }
}

bool FastWrites::client_gone(std::uint64_t slot, const Hooks& hooks) {
  if (slot >= slabs_.size() || !slabs_[slot].lent) {
    return false;
  }
  // Out of memory in a record's handling skips that record (drain moves
  // past it before it throws); the rest of the clean-up must run anyway, or
  // the slot's next client would inherit a slab the server thinks is lent.
  for (std::uint64_t attempt = 0; attempt <= view_.header().ring_records; ++attempt) {
    try {
      drain(slot, hooks);
      break;
    } catch (...) {
    }
  }
  ClientSlot& client = view_.client(slot);
  client.ring_head.store(0, std::memory_order_relaxed);
  client.ring_tail.store(0, std::memory_order_relaxed);
  const std::uint64_t cursor = freeze(slot);
  if (cursor > slabs_[slot].adopted_end) {
    try {
      adopt_orphans(slot, cursor);
    } catch (...) {
      // Its entries stay unadopted; retire gives their bytes back below.
    }
  }
  retire(slot);
  return true;
}

std::uint64_t FastWrites::recall_unwritten() {
  std::uint64_t freed = 0;
  for (std::uint64_t slot = 0; slot < slabs_.size(); ++slot) {
    const Slab& slab = slabs_[slot];
    if (!slab.lent || slab.adopted_end != 0 ||
        slab_cursor(view_.client(slot).slab_alloc.load(std::memory_order_seq_cst)) != 0) {
      continue;
    }
    const std::uint64_t granules = slab.freed_from;
    recall(slot);  // all of it, unless the client allocated just now
    if (!slabs_[slot].lent) {
      freed += granules * kStoreAlignment;
    }
  }
  return freed;
}

std::uint64_t FastWrites::recall_all() {
  std::uint64_t freed = 0;
  for (std::uint64_t slot = 0; slot < slabs_.size(); ++slot) {
    Slab& slab = slabs_[slot];
    if (!slab.lent) {
      continue;
    }
    const std::uint64_t cursor = freeze(slot);
    give_back(slab, cursor, slab.freed_from);
    freed += (slab.freed_from - cursor) * kStoreAlignment;
    slab.freed_from = cursor;
  }
  return freed;
}

bool FastWrites::awaited(std::uint64_t target) const noexcept {
  const std::uint32_t index = target_index(target);
  if (index >= view_.slots() || table_.adopted(index)) {
    return false;
  }
  const ObjectEntry& e = view_.entry(index);
  const std::uint32_t owner = e.owner.load(std::memory_order_relaxed);
  return e.ctl.load(std::memory_order_seq_cst) == make_ctl(target_generation(target), kEntrySealed) && owner != 0 &&
         owner <= slabs_.size() && slabs_[owner - 1].lent;
}

}  // namespace shmkit::detail
