#pragma once
// The shared name index: a copy of the server's name table that clients
// read without a round trip, so a get by name costs a hash probe plus the
// object lookup instead of a socket exchange. An entry gives the name's
// cell (layout.hpp), a word in the client-writable arena that holds the
// object the name is bound to: a rebind swaps the cell and leaves the
// index alone, so clients can rebind without the server.
//
// It lives in a memfd of its own. The server maps it writable and then
// seals it against new writable mappings (F_SEAL_FUTURE_WRITE), so clients
// can only map it read-only: unlike the object index, which every client
// must write to, no client can corrupt the names other clients see.
//
// One writer (the server thread), any number of readers in any process.
// Open addressing with linear probing over 128-byte entries, each guarded
// by a seqlock; a whole-table seqlock covers the rare rebuild that clears
// tombstones. Keys (namespace + name) longer than kIndexedKeyBytes are not
// indexed: lookups of such names go to the server, correct but slower.
//
// Hand-written rather than a Boost.Interprocess map: those containers need
// a lock that readers and the writer share (a reader killed inside it
// would stall the server, and their mutexes are not robust) and cannot be
// read through a read-only mapping.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include <shmkit/store/object_id.hpp>

#include "store/common/layout.hpp"

namespace shmkit::detail {

inline constexpr std::uint64_t kNameIndexMagic = 0x32'58'44'4e'4d'4e'4b'53ULL;  // "SKNMNDX2"
inline constexpr std::size_t kIndexedKeyBytes = 88;

enum : std::uint32_t { kNameSlotEmpty = 0, kNameSlotUsed = 1, kNameSlotTombstone = 2 };

struct NameIndexHeader {
  std::uint64_t magic;
  std::uint64_t entries;  // power of two
  // Where the name cells are when clients may not write them (fast writes
  // off: see cell_array); 0 when they are in the arena.
  std::uint64_t cells_offset;
  std::uint64_t cells;
  // Odd while the server rebuilds the table; readers retry until it is
  // even and unchanged across their probe.
  alignas(64) std::atomic<std::uint64_t> table_seq;
  // Longest distance of any entry from its home slot since the last rebuild.
  std::atomic<std::uint64_t> max_probe;
};

struct NameIndexEntry {
  std::atomic<std::uint32_t> seq;    // odd while the server rewrites this entry
  std::atomic<std::uint32_t> shape;  // state | namespace length << 8 | name length << 16
  std::atomic<std::uint64_t> hash;
  std::atomic<std::uint64_t> cell;  // the name's cell number
  std::uint64_t reserved[2];
  std::atomic<std::uint64_t> key_words[11];  // namespace bytes, then name bytes
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "the name index is shared between processes");
static_assert(std::is_standard_layout_v<NameIndexHeader> && std::is_standard_layout_v<NameIndexEntry>,
              "shared structures must have one layout in every process");
static_assert(sizeof(NameIndexEntry) == 128 && sizeof(NameIndexEntry::key_words) == kIndexedKeyBytes &&
                  sizeof(BindKey::key) == kIndexedKeyBytes,
              "name index entries are two cache lines");
static_assert(sizeof(NameIndexHeader) <= 128, "entries start at offset 128");

inline constexpr std::size_t kNameIndexEntriesOffset = 128;

[[nodiscard]] constexpr std::uint32_t name_shape(std::uint32_t state, std::size_t ns_length,
                                                 std::size_t name_length) noexcept {
  return state | static_cast<std::uint32_t>(ns_length << 8) | static_cast<std::uint32_t>(name_length << 16);
}

// FNV-1a over namespace, a separator no name can hold, and name. It must
// give the same value in every process and every build of one layout
// version, which rules out std::hash; the keys are short, so its speed is
// not a concern.
[[nodiscard]] inline std::uint64_t name_hash(std::string_view ns, std::string_view name) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  const auto mix = [&h](std::string_view text) {
    for (const char c : text) {
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
  };
  mix(ns);
  h = (h ^ 0xffU) * 1099511628211ULL;
  mix(name);
  return h;
}

[[nodiscard]] constexpr bool indexable(std::string_view ns, std::string_view name) noexcept {
  return ns.size() + name.size() <= kIndexedKeyBytes;
}

// What a reader found for one key.
enum class NameLookup : std::uint8_t {
  found,     // bound; the cell is set
  absent,    // not bound (authoritative: every indexable binding is indexed)
  unindexed  // the key is too long for the index: ask the server
};

// Lock-free lookups in a mapped index (server and clients alike).
class NameIndexView {
 public:
  NameIndexView() = default;
  explicit NameIndexView(std::byte* base) noexcept : base_(base) {}

  [[nodiscard]] NameIndexHeader& header() const noexcept { return *reinterpret_cast<NameIndexHeader*>(base_); }
  [[nodiscard]] NameIndexEntry& entry(std::uint64_t index) const noexcept {
    return reinterpret_cast<NameIndexEntry*>(base_ + kNameIndexEntriesOffset)[index];
  }
  [[nodiscard]] bool mapped() const noexcept { return base_ != nullptr; }
  [[nodiscard]] std::atomic<std::uint64_t>* cells() const noexcept {
    const std::uint64_t offset = header().cells_offset;
    return offset == 0 ? nullptr : reinterpret_cast<std::atomic<std::uint64_t>*>(base_ + offset);
  }

  [[nodiscard]] NameLookup lookup(std::string_view ns, std::string_view name, std::uint64_t& cell) const noexcept {
    if (!indexable(ns, name)) {
      return NameLookup::unindexed;
    }
    const std::uint64_t hash = name_hash(ns, name);
    const NameIndexHeader& h = header();
    for (std::uint64_t spins = 0; spins < kMaxSpins; ++spins) {
      const std::uint64_t before = h.table_seq.load(std::memory_order_acquire);
      if ((before & 1) != 0) {
        continue;  // a rebuild takes a few milliseconds at most
      }
      const NameLookup result = probe(ns, name, hash, cell);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (h.table_seq.load(std::memory_order_relaxed) == before) {
        return result;
      }
    }
    // Only a server that died mid-write leaves a seqlock odd for this long;
    // the server's answer (or the error of its absence) settles the lookup.
    return NameLookup::unindexed;
  }

 private:
  static constexpr std::uint64_t kMaxSpins = std::uint64_t{1} << 26;

  // One consistent read of an entry: its shape, and whether it holds the key.
  struct Read {
    std::uint32_t state;
    bool matches;
  };

  [[nodiscard]] NameLookup probe(std::string_view ns, std::string_view name, std::uint64_t hash,
                                 std::uint64_t& cell) const noexcept {
    const NameIndexHeader& h = header();
    const std::uint64_t mask = h.entries - 1;
    const std::uint64_t limit = std::min(h.entries, h.max_probe.load(std::memory_order_acquire) + 1);
    for (std::uint64_t step = 0; step < limit; ++step) {
      const Read read = read_entry(entry((hash + step) & mask), ns, name, hash, cell);
      if (read.state == kStuck) {
        return NameLookup::unindexed;
      }
      if (read.state == kNameSlotEmpty) {
        return NameLookup::absent;
      }
      if (read.matches) {
        return NameLookup::found;
      }
    }
    return NameLookup::absent;
  }

  [[nodiscard]] static Read read_entry(const NameIndexEntry& e, std::string_view ns, std::string_view name,
                                       std::uint64_t hash, std::uint64_t& cell) noexcept {
    for (std::uint64_t spins = 0; spins < kMaxSpins; ++spins) {
      const std::uint32_t before = e.seq.load(std::memory_order_acquire);
      if ((before & 1) != 0) {
        continue;
      }
      const std::uint32_t shape = e.shape.load(std::memory_order_relaxed);
      bool matches = (shape & 0xff) == kNameSlotUsed && shape == name_shape(kNameSlotUsed, ns.size(), name.size()) &&
                     e.hash.load(std::memory_order_relaxed) == hash;
      if (matches) {
        std::uint64_t words[11];
        for (std::size_t w = 0; w < 11; ++w) {
          words[w] = e.key_words[w].load(std::memory_order_relaxed);
        }
        const auto* key = reinterpret_cast<const char*>(words);
        matches =
            std::memcmp(key, ns.data(), ns.size()) == 0 && std::memcmp(key + ns.size(), name.data(), name.size()) == 0;
        cell = e.cell.load(std::memory_order_relaxed);
      }
      std::atomic_thread_fence(std::memory_order_acquire);
      if (e.seq.load(std::memory_order_relaxed) == before) {
        return {shape & 0xff, matches};
      }
    }
    return {kStuck, false};
  }

  static constexpr std::uint32_t kStuck = 0xff;

  std::byte* base_ = nullptr;
};

// The name cells of a store: in the arena, where clients swap them, when
// the store lets clients write (fast writes); otherwise in the name index,
// which clients map read-only, so no client can change which object
// another finds under a name.
[[nodiscard]] inline std::atomic<std::uint64_t>* cell_array(const ArenaView& arena,
                                                            const NameIndexView& names) noexcept {
  return arena.header().slab_bytes != 0 ? &arena.cell(0) : names.cells();
}
[[nodiscard]] inline std::uint64_t cell_count(const ArenaView& arena, const NameIndexView& names) noexcept {
  return arena.header().slab_bytes != 0 ? arena.header().cells : names.header().cells;
}

}  // namespace shmkit::detail
