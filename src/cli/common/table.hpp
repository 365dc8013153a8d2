#pragma once
// A plain-text table: a header row, left-aligned text columns and
// right-aligned number columns, two spaces between columns.

#include <iosfwd>
#include <string>
#include <vector>

namespace shmkit::cli {

class Table {
 public:
  enum class Align { left, right };
  struct Column {
    std::string header;
    Align align = Align::left;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  /// Adds a row; it must have one cell per column.
  void add_row(std::vector<std::string> cells);
  [[nodiscard]] bool empty() const noexcept { return rows_.empty(); }

  /// Writes the header and the rows; the last column is not padded.
  void print(std::ostream& out) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace shmkit::cli
