#include "store/server/name_cells.hpp"

#include <algorithm>

namespace shmkit::detail {

NameCells::NameCells(std::atomic<std::uint64_t>* cells, std::uint64_t count, std::function<bool(const Waiting&)> done)
    : words_(cells), done_(std::move(done)) {
  for (std::uint64_t cell = 0; cell < count; ++cell) {
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

void NameCells::end_quarantines() {
  while (!quarantined_.empty()) {
    Quarantined& q = quarantined_.front();
    std::erase_if(q.waiting, done_);
    if (!q.waiting.empty()) {
      return;  // later releases wait for at least as much
    }
    free_.push_back(q.cell);
    quarantined_.pop_front();
  }
}

std::optional<std::uint32_t> NameCells::assign(const NameKey& key, std::uint64_t target) {
  end_quarantines();
  if (free_.empty()) {
    return std::nullopt;
  }
  const std::uint32_t cell = free_.front();
  free_.pop_front();
  cells_.emplace(cell, Cell{key, target});
  by_key_.emplace(key, cell);
  words_[cell].store(target, std::memory_order_seq_cst);
  return cell;
}

void NameCells::release(const NameKey& key, std::vector<Waiting> in_flight) {
  const auto it = by_key_.find(key);
  if (it == by_key_.end()) {
    return;
  }
  const std::uint32_t cell = it->second;
  words_[cell].store(0, std::memory_order_seq_cst);
  cells_.erase(cell);
  by_key_.erase(it);
  quarantined_.push_back({cell, std::move(in_flight)});
  end_quarantines();
}

void NameCells::publish(std::uint32_t cell, std::uint64_t target) {
  words_[cell].store(target, std::memory_order_seq_cst);
  cells_.at(cell).accepted = target;
}

}  // namespace shmkit::detail
