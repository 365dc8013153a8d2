#include "cli/common/values.hpp"

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/config/yaml_node.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "cli/common/format.hpp"

namespace shmkit::cli {

namespace {

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool all_digits(std::string_view text) noexcept {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

namespace values_detail {

void throw_bad_value(std::string_view text, Dtype dtype, std::string_view why) {
  throw Error("invalid " + std::string(dtype_name(dtype)) + " value '" + std::string(text) + "': " + std::string(why));
}

bool parse_bool(std::string_view text, bool& out) noexcept {
  try {
    const std::string word = lower(trim(text));
    if (word == "true" || word == "1") {
      out = true;
      return true;
    }
    if (word == "false" || word == "0") {
      out = false;
      return true;
    }
  } catch (...) {  // lower() allocates; out of memory reads as "not a bool"
  }
  return false;
}

bool split_complex(std::string_view text, std::string& real, std::string& imag) {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '(' && text.back() == ')') {
    text = trim(text.substr(1, text.size() - 2));
    if (const auto comma = text.find(','); comma != std::string_view::npos) {
      real = trim(text.substr(0, comma));
      imag = trim(text.substr(comma + 1));
      return !real.empty() && !imag.empty();
    }
  }
  if (text.empty()) {
    return false;
  }
  if (text.back() != 'j' && text.back() != 'J') {
    real = text;
    imag = "0";
    return true;
  }
  const std::string_view body = text.substr(0, text.size() - 1);
  // The sign that splits "a+bj" is the last '+'/'-' that is not an exponent's.
  std::size_t split = std::string_view::npos;
  for (std::size_t i = body.size(); i-- > 1;) {
    if ((body[i] == '+' || body[i] == '-') && body[i - 1] != 'e' && body[i - 1] != 'E') {
      split = i;
      break;
    }
  }
  if (split == std::string_view::npos) {
    real = "0";
    imag = body;
  } else {
    real = body.substr(0, split);
    imag = body.substr(split);
  }
  if (imag.empty() || imag == "+" || imag == "-") {
    imag += "1";  // "j", "1+j": Python reads a bare j as 1j
  }
  return true;
}

}  // namespace values_detail

std::vector<std::size_t> parse_shape(std::string_view text) {
  const std::string original(text);
  std::string_view body = trim(text);
  if (body.size() >= 2 &&
      ((body.front() == '(' && body.back() == ')') || (body.front() == '[' && body.back() == ']'))) {
    body = trim(body.substr(1, body.size() - 2));
  }
  std::vector<std::size_t> shape;
  if (body.empty()) {
    return shape;  // a 0-d array, as numpy's shape ()
  }
  std::size_t start = 0;
  while (start <= body.size()) {
    const std::size_t end = std::min(body.find_first_of(",x", start), body.size());
    const std::string_view part = trim(body.substr(start, end - start));
    const bool trailing_comma = part.empty() && end == body.size() && !shape.empty();
    if (trailing_comma) {
      break;  // "(5,)"
    }
    std::size_t extent = 0;
    const auto result = std::from_chars(part.data(), part.data() + part.size(), extent);
    if (!all_digits(part) || result.ec != std::errc{}) {
      throw Error("invalid shape '" + original + "': '" + std::string(part) +
                  "' is not a non-negative integer; write the shape as e.g. 3,4 or (3, 4)");
    }
    shape.push_back(extent);
    start = end + 1;
  }
  return shape;
}

namespace {

constexpr std::string_view kModeForm =
    ": use octal permission bits from 0600 to 0777, e.g. 0600 (owner only) or 0660 (owner and group)";

// What is wrong with these permission bits however they were given, as the
// end of a message that names them; nothing if they are fine.
std::optional<std::string> mode_problem(unsigned value) {
  if (value > 0777) {
    return std::string(kModeForm);
  }
  if ((value & 0600) != 0600) {
    return ": the owner needs read and write permission (0600), because shmkit opens arrays read-write";
  }
  return std::nullopt;
}

// `what` ("invalid mode '0100'") begins the message.
void check_mode_bits(unsigned value, const std::string& what) {
  if (const std::optional<std::string> problem = mode_problem(value)) {
    throw Error(what + *problem);
  }
}

std::string octal(mode_t mode) {
  std::array<char, 16> digits{};
  const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), mode, 8);
  return "0" + std::string(digits.data(), result.ptr);
}

}  // namespace

mode_t parse_mode(std::string_view text) {
  std::string_view digits = trim(text);
  if (digits.starts_with("0o") || digits.starts_with("0O")) {
    digits.remove_prefix(2);
  }
  unsigned value = 0;
  const auto result = std::from_chars(digits.data(), digits.data() + digits.size(), value, 8);
  const std::string what = "invalid mode '" + std::string(text) + "'";
  if (digits.empty() || result.ptr != digits.data() + digits.size() || result.ec != std::errc{}) {
    throw Error(what + std::string(kModeForm));
  }
  check_mode_bits(value, what);
  return static_cast<mode_t>(value);
}

void check_config_mode(mode_t mode, const std::string& file, std::string_view key) {
  const std::optional<std::string> problem = mode_problem(mode);
  if (!problem) {
    return;
  }
  // The file has just loaded, so it parses again; this only finds the line
  // that set the mode (the default is always valid, so the file did).
  const YamlNode root = parse_yaml_document(detail::read_config_file(file), file);
  YamlMark mark;
  std::string written;
  for (std::size_t i = 0; i < root.keys.size(); ++i) {
    if (root.keys[i].text == key) {
      mark = root.items[i].mark;
      written = root.items[i].text;
    }
  }
  std::string message = file;
  if (mark.line > 0) {
    message += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
  }
  message += ": " + std::string(key) + ": invalid mode " + octal(mode);
  if (all_digits(written) && written.front() != '0') {
    message += " (written " + written + ": without a leading 0 a number is decimal, as in Python)";
  }
  throw ConfigError(message + *problem, std::string(key), file, mark.line, mark.column);
}

std::vector<std::size_t> resolve_index(std::span<const std::string> coordinates, std::span<const std::size_t> shape,
                                       std::string_view object) {
  if (coordinates.size() > shape.size()) {
    throw IndexError("index has " + std::to_string(coordinates.size()) + " coordinates, but " + std::string(object) +
                     " has " + std::to_string(shape.size()) + " dimensions " + shape_string(shape));
  }
  std::vector<std::size_t> index;
  for (std::size_t axis = 0; axis < coordinates.size(); ++axis) {
    const std::string_view text = trim(coordinates[axis]);
    long long value = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || result.ptr != text.data() + text.size() || result.ec == std::errc::invalid_argument) {
      throw Error("invalid index '" + coordinates[axis] + "' for axis " + std::to_string(axis) + " of " +
                  std::string(object) + ": not an integer");
    }
    const auto extent = static_cast<long long>(shape[axis]);
    const long long resolved = value < 0 ? value + extent : value;
    if (result.ec != std::errc{} || resolved < 0 || resolved >= extent) {
      const std::string valid = extent == 0 ? "the axis is empty"
                                            : "valid: 0.." + std::to_string(extent - 1) + ", or -" +
                                                  std::to_string(extent) + "..-1 from the end";
      throw IndexError("index " + coordinates[axis] + " is out of range for axis " + std::to_string(axis) + " of " +
                       std::string(object) + " with shape " + shape_string(shape) + " (" + valid + ")");
    }
    index.push_back(static_cast<std::size_t>(resolved));
  }
  return index;
}

std::uint64_t parse_size(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string_view suffix(end, static_cast<std::size_t>(text.data() + text.size() - end));
  int shift = 0;
  if (!suffix.empty()) {
    switch (std::toupper(static_cast<unsigned char>(suffix.front()))) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        shift = -1;
        break;
    }
    suffix.remove_prefix(1);
    if (suffix == "iB" || suffix == "B") {
      suffix = {};
    }
  }
  if (ec != std::errc{} || end == text.data() || shift < 0 || !suffix.empty() || value == 0 ||
      (shift > 0 && value > (~std::uint64_t{0} >> shift))) {
    throw Error("invalid size '" + std::string(text) +
                "': give a positive number of bytes, optionally with K, M, G or T (e.g. 500M, 2G)");
  }
  return value << shift;
}

}  // namespace shmkit::cli
