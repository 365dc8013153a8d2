#include "store/server/name_cells.hpp"

namespace shmkit::detail {

NameCells::NameCells(const ArenaView& view) : view_(view) {
  const std::uint64_t cells = view.header().cells;
  for (std::uint64_t cell = 0; cell < cells; ++cell) {
    free_.push_back(static_cast<std::uint32_t>(cell));
  }
}

std::optional<std::uint32_t> NameCells::cell_of(const NameKey& key) const {
  const auto it = by_key_.find(key);
  if (it == by_key_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::optional<std::uint32_t> NameCells::assign(const NameKey& key, std::uint64_t target) {
  if (free_.empty()) {
    return std::nullopt;
  }
  const std::uint32_t cell = free_.front();
  free_.pop_front();
  cells_.emplace(cell, Cell{key, target});
  by_key_.emplace(key, cell);
  view_.cell(cell).store(target, std::memory_order_seq_cst);
  return cell;
}

void NameCells::release(const NameKey& key) {
  const auto it = by_key_.find(key);
  if (it == by_key_.end()) {
    return;
  }
  const std::uint32_t cell = it->second;
  view_.cell(cell).store(0, std::memory_order_seq_cst);
  cells_.erase(cell);
  by_key_.erase(it);
  free_.push_back(cell);
}

void NameCells::publish(std::uint32_t cell, std::uint64_t target) {
  view_.cell(cell).store(target, std::memory_order_seq_cst);
  cells_.at(cell).accepted = target;
}

}  // namespace shmkit::detail
