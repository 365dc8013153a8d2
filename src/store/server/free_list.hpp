#pragma once
// Best-fit allocation of the data region, kept in the server's private
// memory. Hand-written rather than boost::interprocess's rbtree_best_fit
// because that allocator keeps its tree inside the managed segment, i.e. in
// memory every client maps writable: one buggy client could corrupt it and
// take the server down, and a dead client's blocks could no longer be
// trusted. Here clients can damage nothing the allocator relies on.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace shmkit::detail {

// Not thread-safe: only the server thread uses it.
class FreeList {
 public:
  // Manages [0, capacity); `granule` (a power of two) divides every block.
  FreeList(std::uint64_t capacity, std::uint64_t granule);

  // Offset of a block of `size` bytes (rounded up to the granule), or nullopt.
  [[nodiscard]] std::optional<std::uint64_t> allocate(std::uint64_t size);
  // Returns a block `allocate` gave out, merging it with free neighbours.
  void free(std::uint64_t offset, std::uint64_t size);

  [[nodiscard]] std::uint64_t rounded(std::uint64_t size) const noexcept {
    return (size + granule_ - 1) & ~(granule_ - 1);
  }
  [[nodiscard]] std::uint64_t largest_free() const noexcept;

 private:
  void insert(std::uint64_t offset, std::uint64_t size);
  void erase(std::map<std::uint64_t, std::uint64_t>::iterator it);

  std::uint64_t granule_;
  std::map<std::uint64_t, std::uint64_t> by_offset_;           // offset -> size
  std::set<std::pair<std::uint64_t, std::uint64_t>> by_size_;  // (size, offset)
};

}  // namespace shmkit::detail
