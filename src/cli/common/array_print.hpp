#pragma once
// Prints an array the way numpy's print() / str() does: nested brackets,
// one row per line, columns aligned, blank lines between 2-D blocks, and
// large arrays summarised with "..." around their first and last items.

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <span>
#include <string>

namespace shmkit::cli {

/// numpy's print options, with numpy's defaults.
struct PrintOptions {
  std::size_t threshold = 1000;  ///< summarise arrays with more elements than this
  std::size_t edge_items = 3;    ///< items kept at each end of a summarised axis
  std::size_t line_width = 75;   ///< wrap rows longer than this
};

/// Prints an array of `shape` whose element at C-order offset `flat` is
/// `element(flat)` (already formatted). Only the elements shown are asked
/// for, so summarising a huge array is cheap. A 0-d array prints its one
/// element; an empty one prints "[]". Ends with a newline.
void print_array(std::ostream& out, std::span<const std::size_t> shape,
                 const std::function<std::string(std::size_t)>& element, const PrintOptions& options = {});

}  // namespace shmkit::cli
