#include "cli/common/table.hpp"

#include <algorithm>
#include <ostream>
#include <stdexcept>

namespace shmkit::cli {

namespace {

// Width on a terminal: UTF-8 continuation bytes (10xxxxxx) take no column,
// so "12.5 µs" is as wide as "12.5 us".
std::size_t display_width(const std::string& text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

void Table::add_row(std::vector<std::string> cells) {
  if (cells.size() != columns_.size()) {
    throw std::logic_error("table row has the wrong number of cells");
  }
  rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (const Column& column : columns_) {
    widths.push_back(display_width(column.header));
  }
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  auto print_row = [&](auto cell_of) {
    std::string line;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const std::string& cell = cell_of(i);
      const std::string padding(widths[i] - display_width(cell), ' ');
      const bool last = i + 1 == columns_.size();
      if (columns_[i].align == Align::right) {
        line += padding + cell;
      } else {
        line += cell + (last ? "" : padding);
      }
      if (!last) {
        line += "  ";
      }
    }
    out << line << '\n';
  };
  print_row([&](std::size_t i) -> const std::string& { return columns_[i].header; });
  for (const auto& row : rows_) {
    print_row([&](std::size_t i) -> const std::string& { return row[i]; });
  }
}

}  // namespace shmkit::cli
