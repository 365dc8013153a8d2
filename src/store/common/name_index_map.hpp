#pragma once
// The memfd behind the shared name index: created, sized and sealed by the
// server, mapped read-only by clients from the descriptor it passes them.

#include <cstddef>
#include <cstdint>

#include "store/common/name_index.hpp"

namespace shmkit::detail {

// One process's mapping of a name index. Move-only; unmaps and closes.
class NameIndexMapping {
 public:
  // Server side: an index with room for `max_names` names (twice as many
  // entries, so probe chains stay short), mapped writable, then sealed so
  // that no other mapping of it can be writable. `with_cells`: it also
  // holds the names' cells (fast writes off; see cell_array).
  // @throws Error (memfd refused), StoreFullError (memory)
  [[nodiscard]] static NameIndexMapping create(std::uint64_t max_names, bool with_cells);

  // Client side: maps the index behind `fd` read-only (taking ownership).
  // @throws LayoutError (not a name index), Error
  [[nodiscard]] static NameIndexMapping attach(int fd);

  NameIndexMapping(NameIndexMapping&& other) noexcept;
  NameIndexMapping& operator=(NameIndexMapping&& other) noexcept;
  NameIndexMapping(const NameIndexMapping&) = delete;
  NameIndexMapping& operator=(const NameIndexMapping&) = delete;
  ~NameIndexMapping();

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] const NameIndexView& view() const noexcept { return view_; }

 private:
  NameIndexMapping() = default;
  void release() noexcept;

  int fd_ = -1;
  std::byte* base_ = nullptr;
  std::size_t bytes_ = 0;
  NameIndexView view_;
};

}  // namespace shmkit::detail
