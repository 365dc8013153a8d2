#include "store/server/free_list.hpp"

#include <iterator>

namespace shmkit::detail {

FreeList::FreeList(std::uint64_t capacity, std::uint64_t granule) : granule_(granule) {
  const std::uint64_t usable = capacity & ~(granule - 1);
  if (usable > 0) {
    insert(0, usable);
  }
}

void FreeList::insert(std::uint64_t offset, std::uint64_t size) {
  by_offset_.emplace(offset, size);
  by_size_.emplace(size, offset);
}

void FreeList::erase(std::map<std::uint64_t, std::uint64_t>::iterator it) {
  by_size_.erase({it->second, it->first});
  by_offset_.erase(it);
}

std::optional<std::uint64_t> FreeList::allocate(std::uint64_t size) {
  const std::uint64_t need = rounded(size == 0 ? 1 : size);
  const auto best = by_size_.lower_bound({need, 0});
  if (best == by_size_.end()) {
    return std::nullopt;
  }
  const auto [block_size, offset] = *best;
  erase(by_offset_.find(offset));
  if (block_size > need) {
    insert(offset + need, block_size - need);
  }
  return offset;
}

void FreeList::free(std::uint64_t offset, std::uint64_t size) {
  std::uint64_t start = offset;
  std::uint64_t length = rounded(size == 0 ? 1 : size);
  auto next = by_offset_.lower_bound(start);
  if (next != by_offset_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      length += prev->second;
      erase(prev);
    }
  }
  next = by_offset_.lower_bound(offset);
  if (next != by_offset_.end() && start + length == next->first) {
    length += next->second;
    erase(next);
  }
  insert(start, length);
}

std::uint64_t FreeList::largest_free() const noexcept {
  return by_size_.empty() ? 0 : by_size_.rbegin()->first;
}

}  // namespace shmkit::detail
