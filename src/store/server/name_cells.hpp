#pragma once
// The server's record of the name cells (layout.hpp): which name owns each
// cell and the object the server last accepted for it. A client rebinds a
// name by swapping its cell; the server accepts the swap when it drains the
// client's ring (RequestHandler::reconcile_cell).
//
// Freed cells are handed out again oldest first: a client that looked a
// name up just before it was dropped swaps the cell with a compare-and-swap
// from the value it read, which fails once the cell was cleared, and a
// cell comes back into use only after every other free cell did.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>

#include "store/common/layout.hpp"
#include "store/server/connection.hpp"

namespace shmkit::detail {

class NameCells {
 public:
  explicit NameCells(const ArenaView& view);

  // The cell of a bound name, if it has one.
  [[nodiscard]] std::optional<std::uint32_t> cell_of(const NameKey& key) const;
  // Gives a name bound for the first time a cell reading `target`;
  // nullopt when no cell is free (the name is then served by the server).
  std::optional<std::uint32_t> assign(const NameKey& key, std::uint64_t target);
  // The name was dropped: its cell reads 0 and joins the free queue.
  void release(const NameKey& key);
  // Sets the cell of a name to `target` (a bind by the server).
  void publish(std::uint32_t cell, std::uint64_t target);
  // The server now takes the cell's content, `target`, as the binding.
  void accept(std::uint32_t cell, std::uint64_t target) { cells_.at(cell).accepted = target; }

  [[nodiscard]] bool in_use(std::uint32_t cell) const { return cells_.contains(cell); }
  [[nodiscard]] const NameKey& key(std::uint32_t cell) const { return cells_.at(cell).key; }
  [[nodiscard]] std::uint64_t accepted(std::uint32_t cell) const { return cells_.at(cell).accepted; }
  // Calls f(cell) for every cell in use.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [cell, state] : cells_) {
      f(cell);
    }
  }

 private:
  struct Cell {
    NameKey key;
    std::uint64_t accepted = 0;
  };

  ArenaView view_;
  std::unordered_map<std::uint32_t, Cell> cells_;
  std::map<NameKey, std::uint32_t> by_key_;
  std::deque<std::uint32_t> free_;
};

}  // namespace shmkit::detail
