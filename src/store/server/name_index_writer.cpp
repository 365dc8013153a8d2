#include "store/server/name_index_writer.hpp"

#include <cstring>

#include "store/server/name_table.hpp"

namespace shmkit::detail {

namespace {

// Plain reads of what only this thread writes; the atomics exist for the
// readers in other processes.
std::uint32_t state_of(const NameIndexEntry& e) noexcept {
  return e.shape.load(std::memory_order_relaxed) & 0xff;
}

}  // namespace

std::uint64_t NameIndexWriter::find(std::string_view ns, std::string_view name, std::uint64_t hash) const noexcept {
  ObjectId ignored;
  const NameIndexHeader& h = view_.header();
  const std::uint64_t mask = h.entries - 1;
  const std::uint64_t limit = std::min(h.entries, h.max_probe.load(std::memory_order_relaxed) + 1);
  const std::uint32_t wanted = name_shape(kNameSlotUsed, ns.size(), name.size());
  for (std::uint64_t step = 0; step < limit; ++step) {
    const std::uint64_t index = (hash + step) & mask;
    const NameIndexEntry& e = view_.entry(index);
    const std::uint32_t shape = e.shape.load(std::memory_order_relaxed);
    if ((shape & 0xff) == kNameSlotEmpty) {
      break;
    }
    if (shape != wanted || e.hash.load(std::memory_order_relaxed) != hash) {
      continue;
    }
    std::uint64_t words[11];
    for (std::size_t w = 0; w < 11; ++w) {
      words[w] = e.key_words[w].load(std::memory_order_relaxed);
    }
    const auto* key = reinterpret_cast<const char*>(words);
    if (std::memcmp(key, ns.data(), ns.size()) == 0 && std::memcmp(key + ns.size(), name.data(), name.size()) == 0) {
      return index;
    }
  }
  return h.entries;
}

void NameIndexWriter::write(std::uint64_t index, std::uint32_t shape, std::uint64_t hash, std::string_view ns,
                            std::string_view name, std::uint64_t cell) noexcept {
  NameIndexEntry& e = view_.entry(index);
  const std::uint32_t seq = e.seq.load(std::memory_order_relaxed);
  e.seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  std::uint64_t words[11] = {};
  if (!ns.empty()) {  // a tombstone has no key (and memcpy no null source)
    std::memcpy(words, ns.data(), ns.size());
    std::memcpy(reinterpret_cast<char*>(words) + ns.size(), name.data(), name.size());
  }
  e.shape.store(shape, std::memory_order_relaxed);
  e.hash.store(hash, std::memory_order_relaxed);
  e.cell.store(cell, std::memory_order_relaxed);
  for (std::size_t w = 0; w < 11; ++w) {
    e.key_words[w].store(words[w], std::memory_order_relaxed);
  }
  e.seq.store(seq + 2, std::memory_order_release);
}

void NameIndexWriter::insert(std::string_view ns, std::string_view name, std::uint64_t hash,
                             std::uint64_t cell) noexcept {
  NameIndexHeader& h = view_.header();
  const std::uint64_t mask = h.entries - 1;
  for (std::uint64_t step = 0; step < h.entries; ++step) {
    const std::uint64_t index = (hash + step) & mask;
    const std::uint32_t state = state_of(view_.entry(index));
    if (state == kNameSlotEmpty || state == kNameSlotTombstone) {
      if (state == kNameSlotTombstone) {
        --tombstones_;
      }
      // Raised before the entry appears, so no reader stops short of it.
      if (step > h.max_probe.load(std::memory_order_relaxed)) {
        h.max_probe.store(step, std::memory_order_release);
      }
      write(index, name_shape(kNameSlotUsed, ns.size(), name.size()), hash, ns, name, cell);
      return;
    }
  }
}

void NameIndexWriter::bind(std::string_view ns, std::string_view name, std::uint64_t cell) noexcept {
  if (!indexable(ns, name)) {
    return;
  }
  const std::uint64_t hash = name_hash(ns, name);
  const std::uint64_t index = find(ns, name, hash);
  if (index != view_.header().entries) {
    write(index, name_shape(kNameSlotUsed, ns.size(), name.size()), hash, ns, name, cell);
  } else {
    insert(ns, name, hash, cell);
  }
}

void NameIndexWriter::unbind(std::string_view ns, std::string_view name) noexcept {
  if (!indexable(ns, name)) {
    return;
  }
  const std::uint64_t hash = name_hash(ns, name);
  const std::uint64_t index = find(ns, name, hash);
  if (index == view_.header().entries) {
    return;
  }
  write(index, kNameSlotTombstone, 0, {}, {}, 0);
  ++tombstones_;
}

void NameIndexWriter::compact_if_needed(
    const NameTable& names,
    const std::function<std::uint64_t(const std::string&, const std::string&)>& cell_of) noexcept {
  NameIndexHeader& h = view_.header();
  if (tombstones_ * 4 < h.entries) {
    return;
  }
  // Readers that start or overlap the rebuild see an odd or changed
  // table_seq and retry, so none reports a miss for a name that moved.
  const std::uint64_t seq = h.table_seq.load(std::memory_order_relaxed);
  h.table_seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (std::uint64_t i = 0; i < h.entries; ++i) {
    if (state_of(view_.entry(i)) != kNameSlotEmpty) {
      write(i, kNameSlotEmpty, 0, {}, {}, 0);
    }
  }
  tombstones_ = 0;
  h.max_probe.store(0, std::memory_order_relaxed);
  names.for_each([&](const std::string& ns, const std::string& name, const ObjectId&) {
    if (indexable(ns, name)) {
      insert(ns, name, name_hash(ns, name), cell_of(ns, name));
    }
  });
  h.table_seq.store(seq + 2, std::memory_order_release);
}

}  // namespace shmkit::detail
