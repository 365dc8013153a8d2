// Scalars and errors: the non-template half of yaml_codec.hpp. Every
// message is written for a rig operator editing a file by hand: it says what
// was expected, what was found, and how to fix it.

#include <shmkit/config/yaml_codec.hpp>
#include <shmkit/core/error.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace shmkit::detail {

namespace {

// What an octal field holds: the bits chmod takes. Anything above is a file
// type or garbage, which open(2) and fchmod would silently drop.
constexpr std::uint64_t kMaxPermissionBits = 07777;
constexpr std::string_view kPermissionBitsRange =
    "permission bits are 0 to 07777 (read, write, execute for owner, group, others; setuid, setgid, sticky)";

bool is_identifier(std::string_view key) {
  if (key.empty()) {
    return false;
  }
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string quote(std::string_view text) {
  constexpr std::size_t kShown = 60;
  std::string out = "'";
  out += text.substr(0, kShown);
  if (text.size() > kShown) {
    out += "...";
  }
  out += "'";
  return out;
}

std::string join(std::span<const std::string_view> names) {
  std::string out;
  for (const std::string_view name : names) {
    out += (out.empty() ? "" : ", ") + std::string(name);
  }
  return out;
}

// What an operator would call the value they wrote.
std::string describe(const YamlNode& node) {
  switch (node.kind) {
    case YamlNode::Kind::null:
      return "nothing (null)";
    case YamlNode::Kind::scalar:
      return (node.quoted ? "the quoted text " : "") + quote(node.text);
    case YamlNode::Kind::sequence:
      return "a list";
    case YamlNode::Kind::mapping:
      return "a group of 'key: value' settings";
  }
  return "an unknown value";
}

[[noreturn]] void fail_expected(const YamlNode& node, DecodeContext& ctx, std::string_view expected) {
  std::string reason = "expected " + std::string(expected) + ", found " + describe(node);
  if (node.is_scalar() && node.quoted) {
    reason += "; remove the quotes";
  }
  ctx.fail(node.mark, reason);
}

// Numbers and bools must be plain scalars: a quoted '5' is text in YAML
// (and in Python), so accepting it here would make the two disagree.
void expect_plain_scalar(const YamlNode& node, DecodeContext& ctx, std::string_view expected) {
  if (!node.is_scalar() || node.quoted) {
    fail_expected(node, ctx, expected);
  }
}

std::string strip_underscores(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c != '_') {
      out.push_back(c);
    }
  }
  return out;
}

std::string integer_kind(int bits, bool is_signed) {
  const std::string range =
      is_signed
          ? std::to_string(bits == 64 ? std::numeric_limits<std::int64_t>::min() : -(std::int64_t{1} << (bits - 1))) +
                " to " +
                std::to_string(bits == 64 ? std::numeric_limits<std::int64_t>::max()
                                          : (std::int64_t{1} << (bits - 1)) - 1)
          : "0 to " +
                std::to_string(bits == 64 ? std::numeric_limits<std::uint64_t>::max() : (std::uint64_t{1} << bits) - 1);
  return std::string(bits == 8 ? "an " : "a ") + std::to_string(bits) + "-bit " + (is_signed ? "" : "unsigned ") +
         "integer (" + range + ")";
}

[[noreturn]] void fail_range(const YamlNode& node, DecodeContext& ctx, int bits, bool is_signed) {
  ctx.fail(node.mark, node.text + " is out of range: this setting is " + integer_kind(bits, is_signed));
}

struct Integer {
  bool negative = false;
  std::uint64_t magnitude = 0;
};

// `leading_zero_octal`: read `0600` as octal, as YAML 1.1 (PyYAML) does;
// otherwise refuse it, because YAML 1.2 readers take it for decimal 600.
Integer parse_integer(const YamlNode& node, DecodeContext& ctx, int bits, bool is_signed, std::string_view expected,
                      bool leading_zero_octal = false) {
  expect_plain_scalar(node, ctx, expected);
  std::string_view text = node.text;
  Integer value;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    value.negative = text.front() == '-';
    text.remove_prefix(1);
  }
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'o' || text[1] == 'b')) {
    base = text[1] == 'x' ? 16 : (text[1] == 'o' ? 8 : 2);
    text.remove_prefix(2);
  }
  const std::string digits = strip_underscores(text);
  if (base == 10 && digits.size() > 1 && digits.front() == '0' &&
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (!leading_zero_octal) {
      ctx.fail(node.mark, "leading zeros make " + quote(node.text) +
                              " ambiguous (YAML 1.1 and Python read 010 as octal 8); write it without them, or "
                              "with 0o for octal");
    }
    if (digits.find_first_of("89") != std::string::npos) {
      ctx.fail(node.mark, quote(node.text) + " is not an octal number (digits 0 to 7 after the leading 0)");
    }
    base = 8;
  }
  const char* first = digits.data();
  const char* last = digits.data() + digits.size();
  const auto result = std::from_chars(first, last, value.magnitude, base);
  if (digits.empty() || result.ptr != last || result.ec == std::errc::invalid_argument) {
    fail_expected(node, ctx, expected);
  }
  if (result.ec == std::errc::result_out_of_range) {
    fail_range(node, ctx, bits, is_signed);
  }
  return value;
}

std::uint64_t check_unsigned(const Integer& value, const YamlNode& node, DecodeContext& ctx, int bits) {
  const std::uint64_t max = bits == 64 ? std::numeric_limits<std::uint64_t>::max() : (std::uint64_t{1} << bits) - 1;
  if ((value.negative && value.magnitude != 0) || value.magnitude > max) {
    fail_range(node, ctx, bits, false);
  }
  return value.magnitude;
}

template <class F>
F parse_float(const YamlNode& node, DecodeContext& ctx, std::string_view type, std::string_view expected) {
  expect_plain_scalar(node, ctx, expected);
  std::string_view text = node.text;
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text == ".inf" || text == ".Inf" || text == ".INF") {
    return negative ? -std::numeric_limits<F>::infinity() : std::numeric_limits<F>::infinity();
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") {
    return std::numeric_limits<F>::quiet_NaN();
  }
  // from_chars would also take "inf", "nan" and "infinity", which YAML (and
  // Python) read as text; a number starts with a digit or a dot.
  const std::string digits = strip_underscores(text);
  if (digits.empty() || !((digits.front() >= '0' && digits.front() <= '9') || digits.front() == '.')) {
    fail_expected(node, ctx, expected);
  }
  F value{};
  const char* last = digits.data() + digits.size();
  const auto result = std::from_chars(digits.data(), last, value, std::chars_format::general);
  if (result.ptr != last || result.ec == std::errc::invalid_argument) {
    fail_expected(node, ctx, expected);
  }
  if (result.ec == std::errc::result_out_of_range) {
    ctx.fail(node.mark, node.text + " is out of range for " + std::string(type) + " (largest magnitude about " +
                            format_double(static_cast<double>(std::numeric_limits<F>::max())) + ", smallest about " +
                            format_double(static_cast<double>(std::numeric_limits<F>::denorm_min())) + ")");
  }
  return negative ? -value : value;
}

// Optimal string alignment distance (Levenshtein plus adjacent swaps),
// case-insensitive: "Gain", "gian" and "gaim" are all one edit from "gain".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::size_t> d((n + 1) * (m + 1));
  const auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
  for (std::size_t i = 0; i <= n; ++i) {
    at(i, 0) = i;
  }
  for (std::size_t j = 0; j <= m; ++j) {
    at(0, j) = j;
  }
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(n, m);
}

// The closest name within a typo's reach, or empty.
std::string_view suggest(std::string_view wrong, std::span<const std::string_view> names,
                         std::span<const std::string_view> skip = {}) {
  const std::size_t reach = wrong.size() <= 3 ? 1 : (wrong.size() <= 8 ? 2 : 3);
  std::string_view best;
  std::size_t best_distance = reach + 1;
  for (const std::string_view name : names) {
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) {
      continue;
    }
    const std::size_t distance = edit_distance(wrong, name);
    if (distance < best_distance) {
      best = name;
      best_distance = distance;
    }
  }
  return best;
}

[[noreturn]] void throw_located(std::string_view file, const YamlMark& mark, const std::string& path,
                                const std::string& reason) {
  std::string message(file);
  if (mark.line > 0) {
    message += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
  }
  if (!message.empty()) {
    message += ": ";
  }
  if (!path.empty()) {
    message += path + ": ";
  }
  message += reason;
  throw ConfigError(message, path, std::string(file), mark.line, mark.column);
}

}  // namespace

std::string KeyPath::str() const {
  std::string out;
  for (const Segment& segment : segments_) {
    if (segment.is_index) {
      out += "[" + std::to_string(segment.index) + "]";
    } else if (is_identifier(segment.key)) {
      if (!out.empty()) {
        out += '.';
      }
      out += segment.key;
    } else {
      out += "['";
      for (const char c : segment.key) {
        out += c == '\'' ? std::string("''") : std::string(1, c);
      }
      out += "']";
    }
  }
  return out;
}

void DecodeContext::fail(const YamlMark& mark, const std::string& reason) const {
  throw_located(origin, mark, path.str(), reason);
}

void EncodeContext::fail(const std::string& reason) const {
  throw_located(target, {}, path.str(), reason);
}

bool decode_bool(const YamlNode& node, DecodeContext& ctx) {
  constexpr std::string_view kExpected = "true or false";
  expect_plain_scalar(node, ctx, kExpected);
  // YAML 1.1 booleans, exactly the set PyYAML reads as bool.
  static constexpr std::array<std::string_view, 9> kTrue = {"true", "True", "TRUE", "yes", "Yes",
                                                            "YES",  "on",   "On",   "ON"};
  static constexpr std::array<std::string_view, 9> kFalse = {"false", "False", "FALSE", "no", "No",
                                                             "NO",    "off",   "Off",   "OFF"};
  if (std::find(kTrue.begin(), kTrue.end(), node.text) != kTrue.end()) {
    return true;
  }
  if (std::find(kFalse.begin(), kFalse.end(), node.text) != kFalse.end()) {
    return false;
  }
  fail_expected(node, ctx, kExpected);
}

std::int64_t decode_signed(const YamlNode& node, DecodeContext& ctx, int bits, std::string_view expected) {
  const Integer value = parse_integer(node, ctx, bits, true, expected);
  const std::uint64_t limit = std::uint64_t{1} << (bits - 1);  // |min|; max is limit - 1
  if (value.negative) {
    if (value.magnitude > limit) {
      fail_range(node, ctx, bits, true);
    }
    return value.magnitude == 0 ? 0 : -static_cast<std::int64_t>(value.magnitude - 1) - 1;
  }
  if (value.magnitude > limit - 1) {
    fail_range(node, ctx, bits, true);
  }
  return static_cast<std::int64_t>(value.magnitude);
}

std::uint64_t decode_unsigned(const YamlNode& node, DecodeContext& ctx, int bits, std::string_view expected) {
  return check_unsigned(parse_integer(node, ctx, bits, false, expected), node, ctx, bits);
}

std::uint64_t decode_octal(const YamlNode& node, DecodeContext& ctx, int bits) {
  constexpr bool kLeadingZeroOctal = true;
  const std::uint64_t value =
      check_unsigned(parse_integer(node, ctx, bits, false, "permission bits in octal, such as 0600", kLeadingZeroOctal),
                     node, ctx, bits);
  if (value > kMaxPermissionBits) {
    ctx.fail(node.mark, quote(node.text) + " is out of range: " + std::string(kPermissionBitsRange));
  }
  return value;
}

double decode_double(const YamlNode& node, DecodeContext& ctx, std::string_view expected) {
  return parse_float<double>(node, ctx, "a 64-bit float", expected);
}

float decode_float(const YamlNode& node, DecodeContext& ctx, std::string_view expected) {
  return parse_float<float>(node, ctx, "a 32-bit float", expected);
}

std::string duration_unit(std::intmax_t num, std::intmax_t den) {
  struct Named {
    std::intmax_t num;
    std::intmax_t den;
    std::string_view name;
  };
  static constexpr std::array<Named, 8> kNames{{{1, 1'000'000'000, "nanoseconds"},
                                                {1, 1'000'000, "microseconds"},
                                                {1, 1'000, "milliseconds"},
                                                {1, 1, "seconds"},
                                                {60, 1, "minutes"},
                                                {3'600, 1, "hours"},
                                                {86'400, 1, "days"},
                                                {604'800, 1, "weeks"}}};
  for (const Named& named : kNames) {
    if (named.num == num && named.den == den) {
      return std::string(named.name);
    }
  }
  return "units of " + std::to_string(num) + (den == 1 ? "" : "/" + std::to_string(den)) + " s";
}

YamlNode encode_octal(std::uint64_t value, EncodeContext& ctx) {
  if (value > kMaxPermissionBits) {
    std::array<char, 24> digits{};
    const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), value, 8);
    ctx.fail("0" + std::string(digits.data(), result.ptr) + " is out of range: " + std::string(kPermissionBitsRange));
  }
  if (value == 0) {
    return YamlNode::plain("0");
  }
  std::array<char, 24> digits{};
  const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), value, 8);
  return YamlNode::plain("0" + std::string(digits.data(), result.ptr));
}

const std::string& decode_text(const YamlNode& node, DecodeContext& ctx, std::string_view what) {
  if (!node.is_scalar()) {
    std::string reason = "expected " + std::string(what) + ", found " + describe(node);
    if (node.is_null()) {
      reason += "; write '' for empty text";
    }
    ctx.fail(node.mark, reason);
  }
  return node.text;
}

std::size_t decode_choice(const YamlNode& node, DecodeContext& ctx, std::span<const std::string_view> names) {
  const std::string choices = "one of: " + join(names);
  if (!node.is_scalar()) {
    ctx.fail(node.mark, "expected " + choices + "; found " + describe(node));
  }
  const auto it = std::find(names.begin(), names.end(), node.text);
  if (it != names.end()) {
    return static_cast<std::size_t>(it - names.begin());
  }
  std::string reason = quote(node.text) + " is not a valid choice; expected " + choices;
  const std::string_view near = suggest(node.text, names);
  if (!near.empty()) {
    reason += "; did you mean '" + std::string(near) + "'?";
  }
  ctx.fail(node.mark, reason);
}

void expect_mapping(const YamlNode& node, DecodeContext& ctx) {
  if (node.is_mapping()) {
    return;
  }
  std::string reason =
      ctx.path.str().empty()
          ? "expected 'key: value' settings at the top level, found " + describe(node)
          : "expected a group of 'key: value' settings (indented on the lines below), found " + describe(node);
  if (node.is_scalar() && !node.quoted) {
    const std::size_t colon = node.text.find(':');
    if (colon != std::string::npos && colon + 1 < node.text.size() && node.text[colon + 1] != ' ') {
      reason += "; write a space after ':' in 'key: value'";
    }
  }
  ctx.fail(node.mark, reason);
}

void expect_sequence(const YamlNode& node, DecodeContext& ctx) {
  if (node.is_sequence()) {
    return;
  }
  std::string reason = "expected a list ('- item' lines or [a, b]), found " + describe(node);
  if (node.is_null()) {
    reason += "; write [] for an empty list";
  }
  ctx.fail(node.mark, reason);
}

void expect_length(const YamlNode& node, DecodeContext& ctx, std::size_t length) {
  expect_sequence(node, ctx);
  if (node.items.size() == length) {
    return;
  }
  // Point at the first extra item when there are too many.
  const YamlMark& mark = node.items.size() > length ? node.items[length].mark : node.mark;
  ctx.fail(mark, "expected a list of exactly " + std::to_string(length) + (length == 1 ? " item" : " items") +
                     ", found " + std::to_string(node.items.size()));
}

void fail_unknown_key(const YamlNode::Key& key, DecodeContext& ctx, std::span<const std::string_view> known,
                      std::span<const std::string_view> excluded) {
  const PathScope scope(ctx.path, std::string_view(key.text));
  std::string reason = "unknown setting " + quote(key.text);
  const std::string_view near = suggest(key.text, known, excluded);
  if (!near.empty()) {
    reason += "; did you mean '" + std::string(near) + "'?";
  } else if (known.size() - excluded.size() <= 12) {
    std::vector<std::string_view> valid;
    for (const std::string_view name : known) {
      if (std::find(excluded.begin(), excluded.end(), name) == excluded.end()) {
        valid.push_back(name);
      }
    }
    reason += valid.empty() ? "; nothing can be set here" : "; the settings here are: " + join(valid);
  } else {
    reason += "; check its spelling and indentation";
  }
  ctx.fail(key.mark, reason);
}

void fail_excluded_key(const YamlNode::Key& key, DecodeContext& ctx) {
  const PathScope scope(ctx.path, std::string_view(key.text));
  ctx.fail(key.mark, quote(key.text) + " is not read from the file (the program sets it); delete this line");
}

void fail_duplicate_key(const YamlNode::Key& key, const YamlMark& first, DecodeContext& ctx) {
  const PathScope scope(ctx.path, std::string_view(key.text));
  ctx.fail(key.mark,
           quote(key.text) + " is set twice (first on line " + std::to_string(first.line) + "); delete one of them");
}

YamlMark first_key_mark(const YamlNode& mapping, std::string_view key) {
  for (const YamlNode::Key& k : mapping.keys) {
    if (k.text == key) {
      return k.mark;
    }
  }
  return {};
}

void fail_unnamed_enum(long long value, std::span<const std::string_view> names, EncodeContext& ctx) {
  ctx.fail("the enum holds " + std::to_string(value) + ", which is not one of its named values (" + join(names) +
           "), so it cannot be written by name");
}

}  // namespace shmkit::detail
