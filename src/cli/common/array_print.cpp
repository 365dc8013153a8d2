#include "cli/common/array_print.hpp"

#include <algorithm>
#include <optional>
#include <ostream>
#include <vector>

namespace shmkit::cli {

namespace {

bool is_plain_decimal(const std::string& text) {
  const std::size_t start = text.starts_with('-') ? 1 : 0;
  const auto dot = text.find('.');
  return dot != std::string::npos && dot > start && text.find_first_not_of("0123456789", start) == dot &&
         text.find_first_not_of("0123456789", dot + 1) == std::string::npos;
}

// numpy pads every element to one width. Plain decimals line up on the point
// ("  1.5", " 10. "); anything else (ints, bools, complex, 1e+20) is
// right-aligned.
void align(std::vector<std::string>& items) {
  if (!items.empty() && std::all_of(items.begin(), items.end(), is_plain_decimal)) {
    std::size_t left = 0;
    std::size_t right = 0;
    for (const auto& item : items) {
      const auto dot = item.find('.');
      left = std::max(left, dot);
      right = std::max(right, item.size() - dot);
    }
    for (auto& item : items) {
      const auto dot = item.find('.');
      item = std::string(left - dot, ' ') + item + std::string(right - (item.size() - dot), ' ');
    }
    return;
  }
  std::size_t width = 0;
  for (const auto& item : items) {
    width = std::max(width, item.size());
  }
  for (auto& item : items) {
    item.insert(0, width - item.size(), ' ');
  }
}

class Printer {
 public:
  Printer(std::span<const std::size_t> shape, const PrintOptions& options, bool summarise)
      : shape_(shape), options_(options), summarise_(summarise), strides_(shape.size(), 1) {
    for (std::size_t axis = shape.size(); axis-- > 1;) {
      strides_[axis - 1] = strides_[axis] * shape[axis];
    }
  }

  // Calls `leaf(flat)` for every element shown, in printing order.
  template <class F>
  void visit(std::size_t axis, std::size_t offset, F&& leaf) const {
    for (const auto& child : children(axis)) {
      if (!child) {
        continue;
      }
      const std::size_t at = offset + *child * strides_[axis];
      if (axis + 1 == shape_.size()) {
        leaf(at);
      } else {
        visit(axis + 1, at, leaf);
      }
    }
  }

  // Renders the sub-array at `axis`, taking formatted items from `next` on.
  std::string render(std::size_t axis, std::vector<std::string>::const_iterator& next) const {
    std::string out = "[";
    const auto kids = children(axis);
    if (axis + 1 == shape_.size()) {
      // This row starts after `axis` brackets or indent spaces, plus its own '['.
      std::size_t column = axis + 1;
      for (std::size_t i = 0; i < kids.size(); ++i) {
        const std::string word = kids[i] ? *next++ : "...";
        if (i > 0) {
          if (column + 1 + word.size() + 1 > options_.line_width) {
            out += "\n" + std::string(axis + 1, ' ');
            column = axis + 1;
          } else {
            out += ' ';
            ++column;
          }
        }
        out += word;
        column += word.size();
      }
      return out + "]";
    }
    // numpy separates rows with one newline, 2-D blocks with two, and so on.
    const std::string separator = std::string(shape_.size() - axis - 1, '\n') + std::string(axis + 1, ' ');
    for (std::size_t i = 0; i < kids.size(); ++i) {
      if (i > 0) {
        out += separator;
      }
      out += kids[i] ? render(axis + 1, next) : "...";
    }
    return out + "]";
  }

 private:
  // Indices along `axis` in printing order; nullopt stands for the "..." gap.
  [[nodiscard]] std::vector<std::optional<std::size_t>> children(std::size_t axis) const {
    const std::size_t extent = shape_[axis];
    std::vector<std::optional<std::size_t>> kids;
    if (summarise_ && extent > 2 * options_.edge_items) {
      for (std::size_t i = 0; i < options_.edge_items; ++i) {
        kids.emplace_back(i);
      }
      kids.emplace_back(std::nullopt);
      for (std::size_t i = extent - options_.edge_items; i < extent; ++i) {
        kids.emplace_back(i);
      }
      return kids;
    }
    for (std::size_t i = 0; i < extent; ++i) {
      kids.emplace_back(i);
    }
    return kids;
  }

  std::span<const std::size_t> shape_;
  const PrintOptions& options_;
  bool summarise_;
  std::vector<std::size_t> strides_;
};

}  // namespace

void print_array(std::ostream& out, std::span<const std::size_t> shape,
                 const std::function<std::string(std::size_t)>& element, const PrintOptions& options) {
  if (shape.empty()) {
    out << element(0) << '\n';
    return;
  }
  std::size_t size = 1;
  for (const std::size_t extent : shape) {
    size *= extent;
  }
  if (size == 0) {
    out << "[]\n";
    return;
  }
  const Printer printer(shape, options, size > options.threshold);
  std::vector<std::string> items;
  printer.visit(0, 0, [&](std::size_t flat) { items.push_back(element(flat)); });
  align(items);
  auto next = items.cbegin();
  out << printer.render(0, next) << '\n';
}

}  // namespace shmkit::cli
