#pragma once
// The server's record of the name cells (layout.hpp): which name owns each
// cell and the object the server last accepted for it. A client rebinds a
// name by swapping its cell; the server accepts the swap when it drains the
// client's ring (RequestHandler::reconcile_cell).
//
// A dropped name's cell is quarantined before another name gets it: a
// client may have looked the dropped name up and be about to read or swap
// its cell. Each client counts the name operations it begins and ends
// (ClientSlot::name_ops_begun/ended); the cell is free again once every
// operation begun before the drop has ended. When no cell is free a new
// name gets none (kNoCell) and is served by the server.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "store/common/layout.hpp"
#include "store/server/connection.hpp"

namespace shmkit::detail {

class NameCells {
 public:
  // A client that had name operations in flight when a cell was released.
  struct Waiting {
    std::uint64_t slot;
    std::uint64_t incarnation;  // of the client in that slot
    std::uint64_t begun;        // its name_ops_begun then
  };
  // `cells` is the array (cell_array), `count` its length; `done(w)` says
  // whether the operations `w` waits for have ended.
  NameCells(std::atomic<std::uint64_t>* cells, std::uint64_t count, std::function<bool(const Waiting&)> done);

  // The cell of a bound name, if it has one.
  [[nodiscard]] std::optional<std::uint32_t> cell_of(const NameKey& key) const;
  // Gives a name bound for the first time a cell reading `target`;
  // nullopt when no cell is free.
  std::optional<std::uint32_t> assign(const NameKey& key, std::uint64_t target);
  // The name was dropped: its cell reads 0 and is quarantined until the
  // name operations in `in_flight` have ended.
  void release(const NameKey& key, std::vector<Waiting> in_flight);
  // Sets the cell of a name to `target` (a bind by the server).
  void publish(std::uint32_t cell, std::uint64_t target);
  // The server now takes the cell's content, `target`, as the binding.
  void accept(std::uint32_t cell, std::uint64_t target) { cells_.at(cell).accepted = target; }

  [[nodiscard]] std::atomic<std::uint64_t>& word(std::uint32_t cell) const noexcept { return words_[cell]; }
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
  struct Quarantined {
    std::uint32_t cell;
    std::vector<Waiting> waiting;
  };
  // Moves quarantined cells nobody can still be using to the free queue.
  void end_quarantines();

  std::atomic<std::uint64_t>* words_;
  std::function<bool(const Waiting&)> done_;
  std::unordered_map<std::uint32_t, Cell> cells_;
  std::map<NameKey, std::uint32_t> by_key_;
  std::deque<std::uint32_t> free_;
  std::deque<Quarantined> quarantined_;
};

}  // namespace shmkit::detail
