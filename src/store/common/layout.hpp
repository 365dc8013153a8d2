#pragma once
// The shared part of a store: one memfd laid out as
//   [ArenaHeader page][ObjectEntry index][client slots][name cells][data]
// where each client slot is [ClientSlot][publish ring][lease table]
// (names are in a second, read-only memfd: see name_index.hpp).
// Clients map the first three read-write and the data twice: read-write to
// fill objects they created, read-only for everything they get. Only
// offsets are stored; every atomic is lock-free, so processes can share it.
//
// Reference protocol (no locks, crash-safe): a client's references live
// only in its own lease table. To reference entry i of generation g it
// stores count > 0 in a lease whose key is (g, i) (seq_cst), then re-reads
// the entry's control word (seq_cst) and backs off unless it is still
// (g, sealed). To free an entry the server first moves its control word
// out of `sealed` (seq_cst), then scans the lease tables (seq_cst). One of
// the two always sees the other, so an object is never freed under a
// reader, and a dead client's references vanish with its lease table.
//
// Client-side writes (docs/STORE_FAST_WRITES.md): a client allocates from a
// slab the server lent it, claims an index slot with a CAS, seals, rebinds
// a name by swapping its cell, and tells the server in its publish ring,
// which the server drains without the client waiting for it.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include <shmkit/store/object_id.hpp>

namespace shmkit::detail {

inline constexpr std::uint64_t kStoreMagic = 0x31'45'52'4f'54'53'4b'53ULL;  // "SKSTORE1"
inline constexpr std::uint32_t kStoreLayoutVersion = 5;
inline constexpr std::size_t kStoreAlignment = 64;  // every object starts on a cache line
inline constexpr std::uint64_t kPublishRingRecords = 1024;
// How often (ms) a server drains the publish rings when nothing was
// published in the last 100 ms but a client holds a slab. A ring (1024
// records) then fills only at more than 100k sets/s from a quiet start,
// and its client falls back to a round trip, which drains it.
inline constexpr int kIdleDrainMs = 10;
// First binds one client may have published and the server not applied
// yet: the size of its bind key area. A client with this many in flight
// binds the next name through the server, which applies them first.
inline constexpr std::uint64_t kBindKeySlots = 8;
// A smaller slab would send a client back to the server every few objects.
inline constexpr std::uint64_t kMinSlabBytes = 4096;

// Entry states (low byte of the control word).
enum : std::uint32_t {
  kEntryEmpty = 0,      // never used since the last clean-up: ends a probe chain
  kEntryTombstone = 1,  // freed; probe chains continue past it
  kEntryCreated = 2,    // allocated, being written by its creator
  kEntrySealed = 3,     // readable
  kEntryDoomed = 4,     // removed while referenced: invisible, freed on last release
  kEntryFreeing = 5,    // the server is checking whether it may free it
};

[[nodiscard]] constexpr std::uint64_t make_ctl(std::uint32_t generation, std::uint32_t state) noexcept {
  return (static_cast<std::uint64_t>(generation) << 32) | state;
}
[[nodiscard]] constexpr std::uint32_t ctl_state(std::uint64_t ctl) noexcept {
  return static_cast<std::uint32_t>(ctl & 0xff);
}
[[nodiscard]] constexpr std::uint32_t ctl_generation(std::uint64_t ctl) noexcept {
  return static_cast<std::uint32_t>(ctl >> 32);
}
// A client claims a slot as `created` with its client slot + 1 in bits
// 8..31 of the control word, in the same CAS, so a client killed right
// after its claim still left its mark (the entry's `owner` field is written
// after the claim). The server's own creates carry 0 there.
[[nodiscard]] constexpr std::uint64_t claimed_ctl(std::uint32_t generation, std::uint32_t owner) noexcept {
  return make_ctl(generation, kEntryCreated) | (static_cast<std::uint64_t>(owner & 0xffffffU) << 8);
}
[[nodiscard]] constexpr std::uint32_t ctl_owner(std::uint64_t ctl) noexcept {
  return static_cast<std::uint32_t>(ctl >> 8) & 0xffffffU;
}

struct ArenaHeader {
  std::atomic<std::uint64_t> magic;  // written last by the server
  std::uint32_t layout_version;
  std::uint32_t server_pid;
  std::uint64_t arena_bytes;
  std::uint64_t index_offset;
  std::uint64_t index_slots;  // power of two
  std::uint64_t clients_offset;
  std::uint64_t max_clients;
  std::uint64_t leases_per_client;
  std::uint64_t client_stride;
  std::uint64_t data_offset;   // page aligned
  std::uint64_t capacity;      // bytes of the data region
  std::uint64_t spill;         // evicted objects go to disk: a get that misses asks the server
  std::uint64_t prefault;      // clients map the data populated
  std::uint64_t spin_us;       // how long clients poll for a reply before sleeping
  std::uint64_t slab_bytes;    // size of a client's slab; 0: every write is a round trip
  std::uint64_t ring_records;  // publish ring records per client slot
  std::uint64_t cells_offset;  // name cells, one 64-bit word per name the store can hold
  std::uint64_t cells;

  alignas(64) std::atomic<std::uint64_t> used;  // written by the server only
  std::atomic<std::uint64_t> objects;
  std::atomic<std::uint64_t> clients;  // connections, subscribers included
  // Futex word bumped on every seal; a blocked get sleeps on it. `waiters`
  // lets a sealer skip the wake syscall when nobody sleeps; the share of a
  // client killed while asleep is taken back on its disconnect.
  alignas(64) std::atomic<std::uint32_t> seal_seq;
  std::atomic<std::uint32_t> waiters;
  alignas(64) std::atomic<std::uint64_t> lru_clock;
  // Longest distance of any entry from its home slot so far: lookups stop
  // there even when tombstones have left no empty slot to end a chain.
  std::atomic<std::uint64_t> max_probe;
  alignas(64) std::atomic<std::uint32_t> subscribers;  // > 0: sealers notify the server
  // > 0: a client that rebinds a name itself rings the server at once, so
  // name events go out without waiting for the next drain.
  std::atomic<std::uint32_t> name_subscribers;
  // Objects evicted to the spill environment and not restored yet.
  alignas(64) std::atomic<std::uint64_t> spilled_objects;
  std::atomic<std::uint64_t> spilled_bytes;
  // CLOCK_MONOTONIC ns until which the server polls its sockets without
  // sleeping (it does after a request that follows another within
  // spin_us). A client polls for a reply only while this lies ahead:
  // polling for the reply of a sleeping server would hold the core the
  // kernel wakes the server on (near its waker), and every reply would wait
  // out the client's poll (spin_us + the round trip, measured).
  alignas(64) std::atomic<std::int64_t> server_polling_until_ns;
  // First binds published and not applied yet: bind_word(client slot + 1,
  // count), 0 when none. One client at a time may publish them (it takes
  // the word with a CAS); the server lowers the count as it applies each
  // one and clears the word of a client that is gone. While it is not 0,
  // every name operation of every client goes to the server, which applies
  // the published binds before it answers, so no process misses a name a
  // set already returned for, and no later set of a name is overwritten
  // by an earlier bind.
  alignas(64) std::atomic<std::uint64_t> binds_in_flight;
  // Names bound (written by the server): a client publishes a first bind
  // only while the store has room for it, so the limit's error comes from
  // a request, not lost in a drain.
  std::atomic<std::uint64_t> names;
  // get_name requests waiting for a name (written by the server): a client
  // that publishes a first bind rings the server so they wake at once.
  std::atomic<std::uint32_t> name_getters;
};

struct alignas(64) ObjectEntry {
  std::atomic<std::uint64_t> ctl;  // make_ctl(generation, state)
  // The id as five words: clients compare it while the server may be
  // rewriting a recycled slot, and the generation check discards such reads.
  std::atomic<std::uint32_t> id_words[5];
  std::int32_t creator_pid;
  std::uint64_t data_offset;  // from the start of the data region
  std::uint64_t data_size;
  std::uint64_t metadata_size;  // metadata follows the data
  std::int64_t created_unix_ns;
  std::atomic<std::uint64_t> lru;  // lru_clock value of the last get/refresh
  // Client slot + 1 of a client that wrote this entry itself (0: the
  // server did), so the server can find a dead client's entries.
  std::atomic<std::uint32_t> owner;
  std::uint32_t reserved;
};

struct LeaseRecord {
  std::atomic<std::uint64_t> key;  // lease_key(generation, entry index)
  std::atomic<std::uint32_t> count;
  std::uint32_t unused;
};

struct ClientSlot {
  std::atomic<std::uint32_t> in_use;
  std::int32_t pid;
  // Leases at and above this index were never used: the server's scans
  // stop here. Only the owning client raises it (seq_cst, before use).
  std::atomic<std::uint32_t> lease_high;
  // This client's share of ArenaHeader::waiters, which the server takes
  // back when the client dies in a blocked get.
  std::atomic<std::uint32_t> waiting;
  // The slab lent to this client: its start in the data region (written by
  // the server, only while the client waits for a slab reply or is gone)
  // and its allocation word, slab_word(cursor, limit) in 64-byte granules
  // from the start. The client advances the cursor with a CAS; the server
  // recalls the unused part by lowering the limit to the cursor.
  std::atomic<std::uint64_t> slab_offset;
  std::atomic<std::uint64_t> slab_alloc;
  // The publish ring: records [tail, head) are the server's to read.
  std::atomic<std::uint64_t> ring_head;  // written by the client
  std::atomic<std::uint64_t> ring_tail;  // written by the server
  // Name operations (a name index lookup and the use of the cell it gave)
  // begun and ended by this client: the server reuses a dropped name's
  // cell only once every operation begun before the drop has ended.
  std::atomic<std::uint64_t> name_ops_begun;
  std::atomic<std::uint64_t> name_ops_ended;
  // PublishRecord ring[ring_records], LeaseRecord leases[leases_per_client],
  // then a BindKeyArea.
};

// What a client tells the server it did without asking.
enum : std::uint32_t {
  kPublishAdopt = 1,       // index, generation: I wrote this entry (created) from my slab
  kPublishAdoptNamed = 2,  // same, for a value about to be bound: keep it until the rebind record
  kPublishRebind = 3,      // cell, index, generation: I swapped this cell to that object
  kPublishDropNamed = 4,   // index, generation: the named value was bound another way, or not at all
  kPublishBind = 5,        // index, generation, key slot (in `cell`): bind the key there to this held value
};

struct PublishRecord {
  std::atomic<std::uint32_t> kind;
  std::atomic<std::uint32_t> index;
  std::atomic<std::uint32_t> generation;
  std::atomic<std::uint32_t> cell;
};

// A name a client binds for the first time without asking (kPublishBind):
// the namespace then the name, written before the record is published.
// The server copies it before checking it.
struct BindKey {
  std::uint32_t ns_size;
  std::uint32_t name_size;
  char key[88];  // kIndexedKeyBytes (name_index.hpp)
};
// A client's bind keys, and how many of its bind records the server has
// handled (written by the server): the client reuses the key slot of bind
// n only once bind n - kBindKeySlots was handled, whatever the shared
// in-flight word says (another client could write that).
struct BindKeyArea {
  std::atomic<std::uint64_t> handled;
  std::uint64_t unused[7];
  BindKey keys[kBindKeySlots];
};

[[nodiscard]] constexpr std::uint64_t bind_word(std::uint64_t owner, std::uint64_t count) noexcept {
  return (owner << 32) | count;
}
[[nodiscard]] constexpr std::uint64_t bind_owner(std::uint64_t word) noexcept {
  return word >> 32;
}
[[nodiscard]] constexpr std::uint64_t bind_count(std::uint64_t word) noexcept {
  return word & 0xffffffffU;
}

[[nodiscard]] constexpr std::uint64_t slab_word(std::uint64_t cursor, std::uint64_t limit) noexcept {
  return (cursor << 32) | limit;
}
[[nodiscard]] constexpr std::uint64_t slab_cursor(std::uint64_t word) noexcept {
  return word >> 32;
}
[[nodiscard]] constexpr std::uint64_t slab_limit(std::uint64_t word) noexcept {
  return word & 0xffffffffU;
}

// A name cell holds the object a name is bound to as (index + 1, generation);
// 0 means unbound. A name index entry whose cell is kNoCell (no cell was
// free) is answered by the server.
inline constexpr std::uint64_t kNoCell = ~std::uint64_t{0};
[[nodiscard]] constexpr std::uint64_t cell_target(std::uint32_t index, std::uint32_t generation) noexcept {
  return ((static_cast<std::uint64_t>(index) + 1) << 32) | generation;
}
[[nodiscard]] constexpr std::uint32_t target_index(std::uint64_t target) noexcept {
  return static_cast<std::uint32_t>((target >> 32) - 1);
}
[[nodiscard]] constexpr std::uint32_t target_generation(std::uint64_t target) noexcept {
  return static_cast<std::uint32_t>(target);
}

[[nodiscard]] constexpr std::uint64_t lease_key(std::uint32_t generation, std::uint32_t index) noexcept {
  return (static_cast<std::uint64_t>(generation) << 32) | (static_cast<std::uint64_t>(index) + 1);
}

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "the store index is shared between processes");
static_assert(std::is_standard_layout_v<ArenaHeader> && std::is_standard_layout_v<ObjectEntry> &&
                  std::is_standard_layout_v<LeaseRecord> && std::is_standard_layout_v<ClientSlot> &&
                  std::is_standard_layout_v<BindKeyArea>,
              "shared structures must have one layout in every process");
static_assert(sizeof(ObjectEntry) == 128, "index slots are two cache lines");
static_assert(sizeof(LeaseRecord) == 16 && sizeof(ClientSlot) == 64 && sizeof(PublishRecord) == 16 &&
                  sizeof(BindKey) == 96 && sizeof(BindKeyArea) == 64 + kBindKeySlots * 96,
              "client slots are packed");

// Writes an object's bytes at `base` in the data region: its data, then
// its metadata right after (the layout every entry describes).
inline void copy_object(std::byte* base, std::span<const std::byte> data,
                        std::span<const std::byte> metadata) noexcept {
  if (!data.empty()) {
    std::memcpy(base, data.data(), data.size());
  }
  if (!metadata.empty()) {
    std::memcpy(base + data.size(), metadata.data(), metadata.size());
  }
}

// Sizes of every region for one set of options.
struct ArenaGeometry {
  std::uint64_t index_slots;
  std::uint64_t max_clients;
  std::uint64_t leases_per_client;
  std::uint64_t index_offset;
  std::uint64_t clients_offset;
  std::uint64_t client_stride;
  std::uint64_t ring_records;
  std::uint64_t cells_offset;
  std::uint64_t cells;
  std::uint64_t slab_bytes;
  std::uint64_t data_offset;
  std::uint64_t capacity;
  std::uint64_t arena_bytes;
};

// Typed access to a mapped arena (the same view in server and clients).
class ArenaView {
 public:
  ArenaView() = default;
  ArenaView(std::byte* control, std::byte* data_rw, const std::byte* data_ro) noexcept
      : control_(control), data_rw_(data_rw), data_ro_(data_ro) {}

  [[nodiscard]] ArenaHeader& header() const noexcept { return *reinterpret_cast<ArenaHeader*>(control_); }
  [[nodiscard]] ObjectEntry& entry(std::uint64_t index) const noexcept {
    return reinterpret_cast<ObjectEntry*>(control_ + header().index_offset)[index];
  }
  [[nodiscard]] std::uint64_t slots() const noexcept { return header().index_slots; }
  [[nodiscard]] ClientSlot& client(std::uint64_t slot) const noexcept {
    return *reinterpret_cast<ClientSlot*>(control_ + header().clients_offset + slot * header().client_stride);
  }
  [[nodiscard]] PublishRecord* ring(std::uint64_t slot) const noexcept {
    return reinterpret_cast<PublishRecord*>(&client(slot) + 1);
  }
  [[nodiscard]] LeaseRecord* leases(std::uint64_t slot) const noexcept {
    return reinterpret_cast<LeaseRecord*>(ring(slot) + header().ring_records);
  }
  [[nodiscard]] BindKeyArea& bind_keys(std::uint64_t slot) const noexcept {
    return *reinterpret_cast<BindKeyArea*>(leases(slot) + header().leases_per_client);
  }
  [[nodiscard]] std::atomic<std::uint64_t>& cell(std::uint64_t number) const noexcept {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(control_ + header().cells_offset)[number];
  }
  [[nodiscard]] std::byte* data_rw() const noexcept { return data_rw_; }
  [[nodiscard]] const std::byte* data_ro() const noexcept { return data_ro_; }

  [[nodiscard]] static std::uint64_t home_slot(const ObjectId& id, std::uint64_t slots) noexcept {
    return ObjectIdHash{}(id) & (slots - 1);
  }

  [[nodiscard]] static bool id_matches(const ObjectEntry& entry, const ObjectId& id) noexcept {
    for (std::size_t w = 0; w < 5; ++w) {
      std::uint32_t word = 0;
      std::memcpy(&word, id.bytes.data() + 4 * w, 4);
      if (entry.id_words[w].load(std::memory_order_relaxed) != word) {
        return false;
      }
    }
    return true;
  }

  // The id an entry holds (relaxed reads: callers check the control word
  // around it when the entry may be rewritten meanwhile).
  [[nodiscard]] static ObjectId read_id(const ObjectEntry& entry) noexcept {
    ObjectId id;
    for (std::size_t w = 0; w < 5; ++w) {
      const std::uint32_t word = entry.id_words[w].load(std::memory_order_relaxed);
      std::memcpy(id.bytes.data() + 4 * w, &word, 4);
    }
    return id;
  }

  static void write_id(ObjectEntry& entry, const ObjectId& id) noexcept {
    for (std::size_t w = 0; w < 5; ++w) {
      std::uint32_t word = 0;
      std::memcpy(&word, id.bytes.data() + 4 * w, 4);
      entry.id_words[w].store(word, std::memory_order_relaxed);
    }
  }

  // The slot holding `id` in a live state (created, sealed, doomed), and its
  // control word as read; nullopt-like result: index == slots().
  struct Found {
    std::uint64_t index;
    std::uint64_t ctl;
  };
  [[nodiscard]] Found find(const ObjectId& id) const noexcept {
    const std::uint64_t n = slots();
    const std::uint64_t home = home_slot(id, n);
    const std::uint64_t limit = std::min(n, header().max_probe.load(std::memory_order_acquire) + 1);
    for (std::uint64_t probe = 0; probe < limit; ++probe) {
      const std::uint64_t index = (home + probe) & (n - 1);
      const ObjectEntry& e = entry(index);
      const std::uint64_t ctl = e.ctl.load(std::memory_order_acquire);
      const std::uint32_t state = ctl_state(ctl);
      if (state == kEntryEmpty) {
        break;
      }
      if (state != kEntryTombstone && id_matches(e, id)) {
        return {index, ctl};
      }
    }
    return {n, 0};
  }

  // Raises max_probe to `distance` unless it is higher: clients and the
  // server both insert.
  void raise_max_probe(std::uint64_t distance) const noexcept {
    std::atomic<std::uint64_t>& max_probe = header().max_probe;
    std::uint64_t seen = max_probe.load(std::memory_order_seq_cst);
    while (seen < distance && !max_probe.compare_exchange_weak(seen, distance, std::memory_order_seq_cst)) {
    }
  }

  // Claims a free slot on the probe chain of `id` for a new object with a
  // CAS from empty or tombstone to `created` by `owner` (same generation:
  // freeing bumps it), so the server and clients never take one slot
  // twice. The caller writes the entry's fields next. index == slots():
  // chain full. While clients claim, the server never turns tombstones
  // back into empty slots (object_table.cpp), so an entry is never left
  // behind an empty slot that would end its lookups early.
  [[nodiscard]] Found claim(const ObjectId& id, std::uint32_t owner) const noexcept {
    const std::uint64_t n = slots();
    const std::uint64_t home = home_slot(id, n);
    for (std::uint64_t probe = 0; probe < n; ++probe) {
      const std::uint64_t index = (home + probe) & (n - 1);
      ObjectEntry& e = entry(index);
      std::uint64_t ctl = e.ctl.load(std::memory_order_seq_cst);
      if (ctl_state(ctl) != kEntryEmpty && ctl_state(ctl) != kEntryTombstone) {
        continue;
      }
      raise_max_probe(probe);  // before anyone can find the entry
      const std::uint64_t claimed = claimed_ctl(ctl_generation(ctl), owner);
      if (e.ctl.compare_exchange_strong(ctl, claimed, std::memory_order_seq_cst)) {
        return {index, claimed};
      }
    }
    return {n, 0};
  }

  // True when a live entry other than `index` holds `id`. Two creators of
  // one id that claimed slots at once each write the id, then look: with
  // seq_cst at least one sees the other, and whoever sees one backs off.
  [[nodiscard]] bool duplicate_of(const ObjectId& id, std::uint64_t index) const noexcept {
    const std::uint64_t n = slots();
    const std::uint64_t home = home_slot(id, n);
    const std::uint64_t limit = std::min(n, header().max_probe.load(std::memory_order_seq_cst) + 1);
    for (std::uint64_t probe = 0; probe < limit; ++probe) {
      const std::uint64_t i = (home + probe) & (n - 1);
      const std::uint32_t state = ctl_state(entry(i).ctl.load(std::memory_order_seq_cst));
      if (state == kEntryEmpty) {
        return false;
      }
      if (i != index && state != kEntryTombstone && id_matches(entry(i), id)) {
        return true;
      }
    }
    return false;
  }

 private:
  std::byte* control_ = nullptr;
  std::byte* data_rw_ = nullptr;
  const std::byte* data_ro_ = nullptr;
};

}  // namespace shmkit::detail
