#pragma once
// The server's bookkeeping: which slot of the shared index holds which
// object, where its bytes are, who created it. Only the server thread uses
// it. Shared memory is written here and read back only where clients change
// it (seal, references); the allocation itself is never read back from
// shared memory, so a client scribbling on the index cannot make the server
// free the wrong bytes.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <shmkit/store/store_types.hpp>

#include "store/common/layout.hpp"
#include "store/common/messages.hpp"
#include "store/common/protocol.hpp"
#include "store/persist/object_record.hpp"
#include "store/server/free_list.hpp"

namespace shmkit::detail {

class ObjectTable {
 public:
  // `emit` receives every sealed/removed event, in order. `spill`, when
  // set, receives every object about to be evicted and returns false if it
  // could not keep it (the object then stays). `view` must map the data.
  ObjectTable(const ArenaView& view, std::function<void(const StoreEvent&)> emit,
              std::function<bool(const ObjectRecord&)> spill = {});

  using Created = CreatedObject;

  // Allocates (evicting LRU objects if needed) and publishes a `created`
  // entry owned by connection `owner`. On failure `error` says why.
  Status create(const ObjectId& id, std::uint64_t data_size, std::uint64_t metadata_size, pid_t creator,
                std::uint64_t owner, Created& out, std::string& error);
  // Frees an unsealed object of `owner`.
  Status abort(const ObjectId& id, std::uint64_t owner, std::string& error);
  // Frees the unsealed object in slot `index` (batch roll-back).
  void abort_index(std::uint32_t index);
  // Seals an object the server created and filled itself (inline puts,
  // restores), giving it `creator` and `created_unix_ns` unless `creator` is 0.
  void seal_created(std::uint32_t index, pid_t creator = 0, std::int64_t created_unix_ns = 0);
  // Where the data of the object in slot `index` starts (metadata follows).
  [[nodiscard]] std::byte* data_of(std::uint32_t index) const noexcept;
  // The bytes and provenance of a sealed object, or nullopt.
  [[nodiscard]] std::optional<ObjectRecord> sealed_record(const ObjectId& id) const noexcept;
  // Removes a sealed object now, or when its last reference goes.
  Status remove(const ObjectId& id, bool& deferred, std::string& error);
  // Evicts sealed, unreferenced objects in LRU order; returns bytes freed.
  std::uint64_t evict(std::uint64_t bytes);
  [[nodiscard]] std::vector<ObjectInfo> list() const;

  // A name now refers to the sealed object `id`: it stays (no eviction, no
  // remove) until every name referring to it is gone.
  Status pin(const ObjectId& id, std::string& error);
  // A name referring to `id` is gone; with the last one the object is
  // removed (at once, or when its last reader releases it).
  void unpin(const ObjectId& id);

  // Client-side writes (fast_writes.hpp). A client wrote entry `index` of
  // `generation` itself, from its slab: take it over if it is created or
  // sealed, its bytes lie in [lo, hi) of the data region and its id is
  // new. Returns where its bytes start and end, or nullopt when the entry
  // is not acceptable (the caller then discards it).
  [[nodiscard]] std::optional<std::pair<std::uint64_t, std::uint64_t>> adopt(std::uint32_t index,
                                                                             std::uint32_t generation,
                                                                             std::uint64_t owner, std::uint64_t lo,
                                                                             std::uint64_t hi);
  // Discards a client-written entry the server did not adopt.
  void discard(std::uint32_t index, std::uint64_t ctl) noexcept;
  // The id of the live object in slot `index` of `generation`, if any;
  // `sealed` asks for a sealed one.
  [[nodiscard]] std::optional<ObjectId> id_at(std::uint32_t index, std::uint32_t generation,
                                              bool sealed) const noexcept;
  [[nodiscard]] bool adopted(std::uint32_t index) const noexcept { return slots_[index].live; }
  // The shared entry of a live object still says what the server recorded
  // (id, offset, sizes): no client wrote over it.
  [[nodiscard]] bool intact(std::uint32_t index) const noexcept;
  // Rewrites, from the server's record, every shared entry of a live
  // object that a client wrote over (a client that creates objects itself
  // writes their entries, and a later client in the same slot could write
  // them again); called when a client that wrote entries is gone, so the
  // values it left bound to names stay readable.
  void repair_entries() noexcept;
  // The slot and generation of a live object.
  [[nodiscard]] std::optional<std::pair<std::uint32_t, std::uint32_t>> where(const ObjectId& id) const noexcept;
  // Keeps an object from eviction and removal like a name does, before it
  // is sealed (a value on its way to a name); undone with unpin.
  void hold(std::uint32_t index) noexcept { ++slots_[index].names; }
  // Takes `bytes` from the free list as one extent without evicting (a
  // slab); nullopt when no extent is large enough. `used` counts only the
  // objects adopted from it, so it keeps meaning "bytes held by objects".
  [[nodiscard]] std::optional<std::uint64_t> lend(std::uint64_t bytes);
  // Returns part of a lent extent to the free list.
  void give_back(std::uint64_t offset, std::uint64_t bytes);
  // Called when a create finds no room after evicting what it can: frees
  // the unused parts of the clients' slabs and returns the bytes freed.
  void set_reclaim(std::function<std::uint64_t()> reclaim) { reclaim_ = std::move(reclaim); }
  // Called before a create evicts anything: takes back the slabs
  // no client has written in (every client gets one at connect) and
  // returns the bytes freed. Evicting an object while they lie idle would
  // lose it for nothing.
  void set_reclaim_unwritten(std::function<std::uint64_t()> reclaim) { reclaim_unwritten_ = std::move(reclaim); }

  // A client sealed slot `index` (only sent while someone subscribes).
  void sealed_notice(std::uint32_t index, std::uint32_t generation);
  // Frees removed objects whose last reference is gone.
  void recheck_doomed();
  // Aborts every object `owner` created and did not seal (it disconnected).
  void drop_owner(std::uint64_t owner);

  // Announces sealed objects no event was sent for yet, then lists every
  // sealed object: the snapshot a new subscriber starts with.
  [[nodiscard]] std::vector<StoreEvent> snapshot();

 private:
  struct Slot {
    ObjectId id;
    std::uint64_t offset = 0;
    std::uint64_t allocated = 0;
    std::uint64_t data_size = 0;
    std::uint64_t metadata_size = 0;
    std::uint32_t generation = 0;
    std::uint64_t owner = 0;  // connection that created it
    bool live = false;
    bool announced = false;   // a sealed event went out
    std::uint32_t names = 0;  // names bound to it (server-side references)
  };

  [[nodiscard]] std::uint32_t state(std::uint32_t index) const noexcept;
  [[nodiscard]] ObjectRecord record_of(std::uint32_t index) const noexcept;
  [[nodiscard]] bool referenced(std::uint32_t index) const noexcept;
  bool try_free_sealed(std::uint32_t index);
  void free_slot(std::uint32_t index);
  void announce(std::uint32_t index);
  void announce_removed(std::uint32_t index);
  void wake_getters() noexcept;
  // The least recently used sealed object not tried since the queue was
  // built, or nullopt when the queue is used up.
  [[nodiscard]] std::optional<std::uint32_t> pop_lru() noexcept;
  void rebuild_lru();

  ArenaView view_;
  std::function<void(const StoreEvent&)> emit_;
  std::function<bool(const ObjectRecord&)> spill_;
  std::function<std::uint64_t()> reclaim_;
  std::function<std::uint64_t()> reclaim_unwritten_;
  FreeList free_list_;
  std::vector<Slot> slots_;
  std::unordered_map<ObjectId, std::uint32_t, ObjectIdHash> by_id_;
  std::unordered_set<std::uint32_t> doomed_;
  std::uint64_t live_ = 0;

  // Sorting every sealed object on each create that needs room would make
  // a full store slow, so one sorted queue serves many creates. It stays in
  // LRU order: entries whose stamp changed since (used again) are skipped,
  // and objects missing from it are newer than everything in it.
  struct Candidate {
    std::uint64_t lru;
    std::uint32_t index;
    std::uint32_t generation;
  };
  std::vector<Candidate> lru_queue_;
  std::size_t lru_next_ = 0;
};

}  // namespace shmkit::detail
