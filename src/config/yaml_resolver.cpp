// PyYAML's implicit resolver, by hand.
//
// Why not std::regex, which PyYAML's patterns were first written in: the
// three patterns took about 2 ms to compile on the first string a process
// wrote (the first store set of a config struct paid it), and matching was
// slower than these scans. The patterns are short and fixed; each function
// below is one alternative of them, named after the YAML type it resolves,
// and tests/config/yaml_resolver_test.cpp checks them against the regular
// expressions on random strings.

#include "config/yaml_resolver.hpp"

#include <array>
#include <cstddef>

namespace shmkit::detail {
namespace {

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// A cursor over the text; each reader consumes what it matches.
class Scan {
 public:
  explicit Scan(std::string_view text) noexcept : text_(text) {}

  [[nodiscard]] bool done() const noexcept { return at_ == text_.size(); }
  [[nodiscard]] char peek() const noexcept { return done() ? '\0' : text_[at_]; }

  bool take(char c) noexcept {
    if (peek() == c && !done()) {
      ++at_;
      return true;
    }
    return false;
  }

  bool take_any(std::string_view chars) noexcept {
    if (!done() && chars.find(text_[at_]) != std::string_view::npos) {
      ++at_;
      return true;
    }
    return false;
  }

  // Characters for which `accept` holds, between `min` and `max` of them.
  template <class Accept>
  bool run(Accept accept, std::size_t min, std::size_t max = std::string_view::npos) noexcept {
    std::size_t n = 0;
    while (n < max && !done() && accept(text_[at_])) {
      ++at_;
      ++n;
    }
    return n >= min;
  }

  bool digits(std::size_t min, std::size_t max = std::string_view::npos) noexcept { return run(is_digit, min, max); }
  // [0-9_]*
  void digits_or_underscores() noexcept {
    run([](char c) { return is_digit(c) || c == '_'; }, 0);
  }
  void sign() noexcept { (void)take_any("+-"); }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

// [eE][-+][0-9]+, optional: false only for a partial exponent.
bool optional_exponent(Scan& s) {
  if (!s.take_any("eE")) {
    return true;
  }
  return s.take_any("+-") && s.digits(1);
}

// (:[0-5]?[0-9])+
bool sexagesimal_groups(Scan& s) {
  bool any = false;
  while (s.take(':')) {
    // [0-5]?[0-9]: one or two digits, a first of two at most 5.
    const char first = s.peek();
    if (!s.digits(1, 1)) {
      return false;
    }
    if (is_digit(s.peek())) {
      if (first > '5') {
        return false;
      }
      (void)s.digits(1, 1);
    }
    any = true;
  }
  return any;
}

// [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?
bool decimal_float(std::string_view text) {
  Scan s(text);
  s.sign();
  if (!s.digits(1, 1)) {
    return false;
  }
  s.digits_or_underscores();
  if (!s.take('.')) {
    return false;
  }
  s.digits_or_underscores();
  return optional_exponent(s) && s.done();
}

// \.[0-9][0-9_]*([eE][-+][0-9]+)?
bool fraction_float(std::string_view text) {
  Scan s(text);
  if (!s.take('.') || !s.digits(1, 1)) {
    return false;
  }
  s.digits_or_underscores();
  return optional_exponent(s) && s.done();
}

// [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
bool sexagesimal_float(std::string_view text) {
  Scan s(text);
  s.sign();
  if (!s.digits(1, 1)) {
    return false;
  }
  s.digits_or_underscores();
  if (!sexagesimal_groups(s) || !s.take('.')) {
    return false;
  }
  s.digits_or_underscores();
  return s.done();
}

// [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
bool special_float(std::string_view text) {
  static constexpr std::array<std::string_view, 12> kSpecial = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf", "+.INF",
                                                                "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN"};
  for (const std::string_view special : kSpecial) {
    if (text == special) {
      return true;
    }
  }
  return false;
}

bool is_float(std::string_view text) {
  return decimal_float(text) || fraction_float(text) || sexagesimal_float(text) || special_float(text);
}

// [-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
// | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+
bool is_int(std::string_view text) {
  Scan s(text);
  s.sign();
  if (s.take('0')) {
    if (s.done()) {
      return true;  // 0
    }
    if (s.take('b')) {
      return s.run([](char c) { return c == '0' || c == '1' || c == '_'; }, 1) && s.done();
    }
    if (s.take('x')) {
      return s.run([](char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '_'; },
                   1) &&
             s.done();
    }
    return s.run([](char c) { return (c >= '0' && c <= '7') || c == '_'; }, 1) && s.done();  // octal
  }
  if (s.peek() < '1' || s.peek() > '9' || !s.digits(1, 1)) {
    return false;
  }
  s.digits_or_underscores();
  if (s.done()) {
    return true;
  }
  return sexagesimal_groups(s) && s.done();
}

// [0-9]{4}-[0-9]{2}-[0-9]{2}
// | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}
//   (\.[0-9]*)?([ \t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?
bool is_timestamp(std::string_view text) {
  Scan s(text);
  if (!s.digits(4, 4) || !s.take('-') || !s.digits(1, 2) || !s.take('-') || !s.digits(1, 2)) {
    return false;
  }
  if (s.done()) {
    // A date alone needs two-digit month and day: 10 characters.
    return text.size() == 10;
  }
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  if (!s.take_any("Tt") && !s.run(blank, 1)) {
    return false;
  }
  if (!s.digits(1, 2) || !s.take(':') || !s.digits(2, 2) || !s.take(':') || !s.digits(2, 2)) {
    return false;
  }
  if (s.take('.')) {
    (void)s.digits(0);
  }
  if (s.done()) {
    return true;
  }
  (void)s.run(blank, 0);
  if (s.take('Z')) {
    return s.done();
  }
  if (!s.take_any("+-") || !s.digits(1, 2)) {
    return false;
  }
  if (s.take(':') && !s.digits(2, 2)) {
    return false;
  }
  return s.done();
}

}  // namespace

bool resolves_to_non_string(std::string_view value) noexcept {
  if (value.empty()) {
    return true;  // null
  }
  static constexpr std::array<std::string_view, 18> kBools = {"yes",  "Yes",  "YES",  "no",    "No",    "NO",
                                                              "true", "True", "TRUE", "false", "False", "FALSE",
                                                              "on",   "On",   "ON",   "off",   "Off",   "OFF"};
  // The first-character dispatch mirrors PyYAML's table.
  const char first = value.front();
  switch (first) {
    case 'y':
    case 'Y':
    case 'n':
    case 'N':
    case 't':
    case 'T':
    case 'f':
    case 'F':
    case 'o':
    case 'O':
      for (const std::string_view b : kBools) {
        if (value == b) {
          return true;
        }
      }
      return value == "null" || value == "Null" || value == "NULL";
    case '~':
      return value == "~";
    case '<':
      return value == "<<";
    case '=':
      return value == "=";
    case '!':
    case '&':
    case '*':
      return value.size() == 1;
    case '.':
      return is_float(value);
    case '-':
    case '+':
      return is_float(value) || is_int(value);
    default:
      return is_digit(first) && (is_float(value) || is_int(value) || is_timestamp(value));
  }
}

}  // namespace shmkit::detail
