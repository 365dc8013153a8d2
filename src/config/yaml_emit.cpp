// The YAML writer: a port of the parts of PyYAML's Emitter (emitter.py,
// PyYAML 6.0) that a block-style dump of dicts, lists and scalars exercises;
// PyYAML's implicit resolver, which decides when a string must be quoted, is
// in yaml_resolver.cpp.
//
// Why not yaml-cpp's YAML::Emitter: files must read like ataraxis' (PyYAML's)
// and yaml-cpp writes a different flavour that its options cannot change:
// it indents block sequences under a key ("key:\n  - 1", PyYAML writes
// "key:\n- 1"), writes floats without a forced ".0" and in C++ exponent
// style, writes null as "~", quotes with its own rules and never folds long
// scalars at 80 columns. Porting the emitter's state machine keeps the column
// arithmetic identical, so the output matches PyYAML byte for byte (tested
// against /usr/bin/python3 in tests/config/yaml_interop_test.cpp).

#include <shmkit/config/yaml_codec.hpp>
#include <shmkit/config/yaml_node.hpp>

#include "config/yaml_resolver.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace shmkit {

namespace detail {

// -------------------------------------------------------------------- UTF-8

namespace {

// Decodes UTF-8 into code points; nullopt if malformed (overlong forms,
// surrogates and values above U+10FFFF included).
std::optional<std::u32string> decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      out.push_back(lead);
      ++i;
      continue;
    }
    std::size_t length = 0;
    char32_t cp = 0;
    char32_t minimum = 0;
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      cp = lead & 0x1F;
      minimum = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      cp = lead & 0x0F;
      minimum = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      cp = lead & 0x07;
      minimum = 0x10000;
    } else {
      return std::nullopt;
    }
    if (i + length > text.size()) {
      return std::nullopt;
    }
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) {
        return std::nullopt;
      }
      cp = (cp << 6) | (next & 0x3F);
    }
    if (cp < minimum || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::nullopt;
    }
    out.push_back(cp);
    i += length;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// ------------------------------------------------------------------- floats

// Python's repr() of a float, with PyYAML's fix-up: repr uses exponent
// notation when the decimal exponent is below -4 or above 15 ("1e-05",
// "1e+16") and PyYAML inserts ".0" when the mantissa has no dot, because
// YAML 1.1 floats need one ("1.0e-05").
template <class F>
std::string python_float_repr(F value) {
  if (std::isnan(value)) {
    return ".nan";
  }
  if (std::isinf(value)) {
    return value > 0 ? ".inf" : "-.inf";
  }
  std::array<char, 64> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::scientific);
  const std::string_view sci(buffer.data(), static_cast<std::size_t>(result.ptr - buffer.data()));
  // sci is "[-]d[.ddd]e(+|-)XX", the shortest digits that read back exactly.
  std::string_view rest = sci;
  std::string out;
  if (rest.front() == '-') {
    out.push_back('-');
    rest.remove_prefix(1);
  }
  const std::size_t e = rest.find('e');
  std::string digits;
  for (const char c : rest.substr(0, e)) {
    if (c != '.') {
      digits.push_back(c);
    }
  }
  int exponent = 0;
  const std::string_view exponent_text = rest.substr(e + 1);
  std::from_chars(exponent_text.data() + (exponent_text.front() == '+' ? 1 : 0),
                  exponent_text.data() + exponent_text.size(), exponent);
  const int point = exponent + 1;  // digits before the decimal point
  const auto count = static_cast<int>(digits.size());
  if (point <= -4 || point > 16) {
    out.push_back(digits.front());
    out.push_back('.');
    out += count > 1 ? digits.substr(1) : std::string("0");
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    const std::string magnitude = std::to_string(std::abs(exponent));
    if (magnitude.size() < 2) {
      out.push_back('0');
    }
    out += magnitude;
  } else if (point <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-point), '0');
    out += digits;
  } else if (point >= count) {
    out += digits;
    out.append(static_cast<std::size_t>(point - count), '0');
    out += ".0";
  } else {
    out += digits.substr(0, static_cast<std::size_t>(point));
    out.push_back('.');
    out += digits.substr(static_cast<std::size_t>(point));
  }
  return out;
}

}  // namespace

std::string format_double(double value) {
  return python_float_repr(value);
}

std::string format_float(float value) {
  return python_float_repr(value);
}

YamlNode encode_text(std::string_view text, EncodeContext& ctx) {
  if (!decode_utf8(text)) {
    ctx.fail("the text is not valid UTF-8, and YAML files hold Unicode text; convert it before saving");
  }
  return YamlNode::string(std::string(text));
}

// ------------------------------------------------------------------ emitter

namespace {

constexpr int kBestIndent = 2;
constexpr std::size_t kBestWidth = 80;

bool is_break(char32_t c) {
  return c == U'\n' || c == 0x85 || c == 0x2028 || c == 0x2029;
}

bool is_space_or_break(char32_t c) {  // PyYAML's '\0 \t\r\n\x85\u2028\u2029'
  return c == 0 || c == U' ' || c == U'\t' || c == U'\r' || is_break(c);
}

// A set of ASCII characters as a 128-bit mask. analyze_scalar tests every
// character of every scalar against these sets; a search of a U"..." literal
// per test (its length computed each time) took half of a dump's time.
class AsciiSet {
 public:
  consteval explicit AsciiSet(std::string_view chars) {
    for (const char c : chars) {
      const auto bit = static_cast<unsigned char>(c);
      bits_[bit / 64] |= std::uint64_t{1} << (bit % 64);
    }
  }
  [[nodiscard]] constexpr bool contains(char32_t c) const noexcept {
    return c < 128 && ((bits_[c / 64] >> (c % 64)) & 1U) != 0;
  }

 private:
  std::uint64_t bits_[2] = {0, 0};
};

constexpr AsciiSet kLeadingIndicators("#,[]{}&*!|>'\"%@`");
constexpr AsciiSet kFlowIndicators(",?[]{}");
constexpr AsciiSet kWordStart("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
constexpr AsciiSet kWordRest("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-/");

// Most scalars of a config are keys and numbers such as "frame_rate_hz" or
// "1.5e-05": a word character first, then only characters that are never
// indicators, spaces or breaks in any position. Every style allows them,
// which the full analysis below would also find, one character at a time.
bool is_plain_word(std::u32string_view scalar) {
  if (scalar.empty() || !kWordStart.contains(scalar.front())) {
    return false;
  }
  for (const char32_t ch : scalar.substr(1)) {
    if (!kWordRest.contains(ch)) {
      return false;
    }
  }
  return true;
}

struct ScalarAnalysis {
  bool empty = false;
  bool multiline = false;
  bool allow_flow_plain = true;
  bool allow_block_plain = true;
  bool allow_single_quoted = true;
  bool allow_double_quoted = true;
  bool allow_block = true;
};

// Emitter.analyze_scalar with allow_unicode=True.
ScalarAnalysis analyze_scalar(std::u32string_view scalar) {
  ScalarAnalysis a;
  if (is_plain_word(scalar)) {
    return a;
  }
  if (scalar.empty()) {
    a.empty = true;
    a.allow_flow_plain = false;
    a.allow_block = false;
    return a;
  }
  bool block_indicators = false;
  bool flow_indicators = false;
  bool line_breaks = false;
  bool special_characters = false;
  bool leading_space = false;
  bool leading_break = false;
  bool trailing_space = false;
  bool trailing_break = false;
  bool break_space = false;
  bool space_break = false;
  if (scalar.starts_with(U"---") || scalar.starts_with(U"...")) {
    block_indicators = true;
    flow_indicators = true;
  }
  bool preceded_by_whitespace = true;
  bool followed_by_whitespace = scalar.size() == 1 || is_space_or_break(scalar[1]);
  bool previous_space = false;
  bool previous_break = false;
  for (std::size_t index = 0; index < scalar.size();) {
    const char32_t ch = scalar[index];
    if (index == 0) {
      if (kLeadingIndicators.contains(ch)) {
        flow_indicators = true;
        block_indicators = true;
      }
      if (ch == U'?' || ch == U':') {
        flow_indicators = true;
        if (followed_by_whitespace) {
          block_indicators = true;
        }
      }
      if (ch == U'-' && followed_by_whitespace) {
        flow_indicators = true;
        block_indicators = true;
      }
    } else {
      if (kFlowIndicators.contains(ch)) {
        flow_indicators = true;
      }
      if (ch == U':') {
        flow_indicators = true;
        if (followed_by_whitespace) {
          block_indicators = true;
        }
      }
      if (ch == U'#' && preceded_by_whitespace) {
        flow_indicators = true;
        block_indicators = true;
      }
    }
    if (is_break(ch)) {
      line_breaks = true;
    }
    if (!(ch == U'\n' || (ch >= 0x20 && ch <= 0x7E))) {
      const bool printable_unicode = (ch == 0x85 || (ch >= 0xA0 && ch <= 0xD7FF) || (ch >= 0xE000 && ch <= 0xFFFD) ||
                                      (ch >= 0x10000 && ch < 0x10FFFF)) &&
                                     ch != 0xFEFF;
      if (!printable_unicode) {
        special_characters = true;
      }
    }
    if (ch == U' ') {
      if (index == 0) {
        leading_space = true;
      }
      if (index == scalar.size() - 1) {
        trailing_space = true;
      }
      if (previous_break) {
        break_space = true;
      }
      previous_space = true;
      previous_break = false;
    } else if (is_break(ch)) {
      if (index == 0) {
        leading_break = true;
      }
      if (index == scalar.size() - 1) {
        trailing_break = true;
      }
      if (previous_space) {
        space_break = true;
      }
      previous_space = false;
      previous_break = true;
    } else {
      previous_space = false;
      previous_break = false;
    }
    ++index;
    preceded_by_whitespace = is_space_or_break(ch);
    followed_by_whitespace = index + 1 >= scalar.size() || is_space_or_break(scalar[index + 1]);
  }
  if (leading_space || leading_break || trailing_space || trailing_break) {
    a.allow_flow_plain = a.allow_block_plain = false;
  }
  if (trailing_space) {
    a.allow_block = false;
  }
  if (break_space) {
    a.allow_flow_plain = a.allow_block_plain = a.allow_single_quoted = false;
  }
  if (space_break || special_characters) {
    a.allow_flow_plain = a.allow_block_plain = a.allow_single_quoted = a.allow_block = false;
  }
  if (line_breaks) {
    a.allow_flow_plain = a.allow_block_plain = false;
  }
  if (flow_indicators) {
    a.allow_flow_plain = false;
  }
  if (block_indicators) {
    a.allow_block_plain = false;
  }
  a.multiline = line_breaks;
  return a;
}

// True for text that analyze_scalar lets be plain in every context and
// that write_plain writes in one piece: ASCII letters, digits and "_.+-",
// not an indicator ("-" alone or "---", "..."), no space to fold at. Most
// scalars and keys of a config are such words (member names, numbers,
// enumerators); they skip the UTF-32 copy and the analysis, which were
// most of the cost of writing a struct.
bool plain_word(std::string_view text) noexcept {
  if (text.empty() || (text.front() == '-' && text.size() == 1) || text.starts_with("---") || text.starts_with("...")) {
    return false;
  }
  for (const char c : text) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '.' || c == '+' || c == '-';
    if (!word) {
      return false;
    }
  }
  return true;
}

// The longest key written as a simple key ("key: value"); longer ones are
// complex keys ("? key" then ": value"). PyYAML's check_simple_key wants
// fewer than 128 characters, counting the key's tag as it would print it,
// "!!str" (5), even where the tag is implicit and not printed.
constexpr std::size_t kMaxSimpleKey = 127 - 5;

enum class Style : std::uint8_t { plain, single_quoted, double_quoted };

class Emitter {
 public:
  std::string document(const YamlNode& root) {
    write_indent();
    write_indicator(U"---", true);
    node(root, false, false);
    write_indent();
    write_indicator(U"...", true);
    write_indent();
    return std::move(out_);
  }

 private:
  // ----- node handlers (expect_node and friends)

  void node(const YamlNode& n, bool mapping_context, bool simple_key_context) {
    switch (n.kind) {
      case YamlNode::Kind::null:
        scalar(U"null", true, simple_key_context);
        break;
      case YamlNode::Kind::scalar: {
        const bool implicit = !n.quoted || !resolves_to_non_string(n.text);
        if (implicit && plain_word(n.text)) {
          plain_word_scalar(n.text);
        } else {
          scalar(to_u32(n.text), implicit, simple_key_context);
        }
        break;
      }
      case YamlNode::Kind::sequence:
        if (flow_level_ > 0 || n.items.empty()) {
          flow_collection(U"[", U"]");
        } else {
          block_sequence(n, mapping_context);
        }
        break;
      case YamlNode::Kind::mapping:
        if (flow_level_ > 0 || n.items.empty()) {
          flow_collection(U"{", U"}");
        } else {
          block_mapping(n);
        }
        break;
    }
  }

  // Only empty collections are written in flow style ([] and {}), as PyYAML
  // does with default_flow_style=False.
  void flow_collection(std::u32string_view open, std::u32string_view close) {
    write_indicator(open, true, true);
    ++flow_level_;
    increase_indent(true, false);
    indent_ = pop_indent();
    --flow_level_;
    write_indicator(close, false);
  }

  void block_sequence(const YamlNode& n, bool mapping_context) {
    const bool indentless = mapping_context && !indention_;
    increase_indent(false, indentless);
    for (const YamlNode& item : n.items) {
      write_indent();
      write_indicator(U"-", true, false, true);
      node(item, false, false);
    }
    indent_ = pop_indent();
  }

  void block_mapping(const YamlNode& n) {
    increase_indent(false, false);
    for (std::size_t i = 0; i < n.keys.size(); ++i) {
      const YamlNode::Key& key = n.keys[i];
      const bool key_implicit = !key.quoted || !resolves_to_non_string(key.text);
      write_indent();
      if (key.text.size() <= kMaxSimpleKey && key_implicit && plain_word(key.text)) {  // a simple key, plain
        plain_word_scalar(key.text);
        write_indicator(U":", false);
        node(n.items[i], true, false);
        continue;
      }
      const std::u32string key_text = to_u32(key.text);
      const ScalarAnalysis analysis = analyze_scalar(key_text);
      if (key_text.size() <= kMaxSimpleKey && !analysis.empty && !analysis.multiline) {  // a simple key
        scalar(key_text, analysis, key_implicit, true);
        write_indicator(U":", false);
        node(n.items[i], true, false);
      } else {
        write_indicator(U"?", true, false, true);
        scalar(key_text, analysis, key_implicit, false);
        write_indent();
        write_indicator(U":", true, false, true);
        node(n.items[i], true, false);
      }
    }
    indent_ = pop_indent();
  }

  // ----- scalars (expect_scalar, choose_scalar_style, process_scalar)

  void scalar(std::u32string_view text, bool implicit, bool simple_key_context) {
    scalar(text, analyze_scalar(text), implicit, simple_key_context);
  }

  void scalar(std::u32string_view text, const ScalarAnalysis& a, bool implicit, bool simple_key_context) {
    increase_indent(true, false);
    Style style = Style::double_quoted;
    if (implicit && !(simple_key_context && (a.empty || a.multiline)) &&
        ((flow_level_ > 0 && a.allow_flow_plain) || (flow_level_ == 0 && a.allow_block_plain))) {
      style = Style::plain;
    } else if (a.allow_single_quoted && !(simple_key_context && a.multiline)) {
      style = Style::single_quoted;
    }
    const bool split = !simple_key_context;
    switch (style) {
      case Style::plain:
        write_plain(text, split);
        break;
      case Style::single_quoted:
        write_single_quoted(text, split);
        break;
      case Style::double_quoted:
        write_double_quoted(text, split);
        break;
    }
    indent_ = pop_indent();
  }

  // scalar() for a plain_word: the plain style, written as write_plain
  // writes text without spaces or breaks.
  void plain_word_scalar(std::string_view text) {
    increase_indent(true, false);
    if (!whitespace_) {
      write(U" ");
    }
    whitespace_ = false;
    indention_ = false;
    out_ += text;
    column_ += text.size();  // ASCII: a byte is a column
    indent_ = pop_indent();
  }

  // ----- low-level writers

  void increase_indent(bool flow, bool indentless) {
    indents_.push_back(indent_);
    if (indent_ < 0) {
      indent_ = flow ? kBestIndent : 0;
    } else if (!indentless) {
      indent_ += kBestIndent;
    }
  }

  int pop_indent() {
    const int previous = indents_.back();
    indents_.pop_back();
    return previous;
  }

  void write(std::u32string_view data) {
    for (const char32_t c : data) {
      if (c < 0x80) {
        out_ += static_cast<char>(c);
      } else {
        append_utf8(out_, c);
      }
    }
    column_ += data.size();
  }

  void write_indicator(std::u32string_view indicator, bool need_whitespace, bool whitespace = false,
                       bool indention = false) {
    if (!whitespace_ && need_whitespace) {
      write(U" ");
    }
    write(indicator);
    whitespace_ = whitespace;
    indention_ = indention_ && indention;
  }

  void write_indent() {
    const std::size_t indent = indent_ < 0 ? 0 : static_cast<std::size_t>(indent_);
    if (!indention_ || column_ > indent || (column_ == indent && !whitespace_)) {
      write_line_break();
    }
    if (column_ < indent) {
      whitespace_ = true;
      out_.append(indent - column_, ' ');
      column_ = indent;
    }
  }

  void write_line_break(char32_t br = U'\n') {
    whitespace_ = true;
    indention_ = true;
    column_ = 0;
    append_utf8(out_, br);
  }

  void write_breaks(std::u32string_view breaks) {
    if (breaks.front() == U'\n') {
      write_line_break();
    }
    for (const char32_t br : breaks) {
      write_line_break(br);
    }
  }

  void write_plain(std::u32string_view text, bool split) {
    if (text.empty()) {
      return;
    }
    if (!whitespace_) {
      write(U" ");
    }
    whitespace_ = false;
    indention_ = false;
    bool spaces = false;
    bool breaks = false;
    std::size_t start = 0;
    for (std::size_t end = 0; end <= text.size(); ++end) {
      const bool at_end = end == text.size();
      const char32_t ch = at_end ? 0 : text[end];
      if (spaces) {
        if (at_end || ch != U' ') {
          if (start + 1 == end && column_ > kBestWidth && split) {
            write_indent();
            whitespace_ = false;
            indention_ = false;
          } else {
            write(text.substr(start, end - start));
          }
          start = end;
        }
      } else if (breaks) {
        if (at_end || !is_break(ch)) {
          write_breaks(text.substr(start, end - start));
          write_indent();
          whitespace_ = false;
          indention_ = false;
          start = end;
        }
      } else if (at_end || ch == U' ' || is_break(ch)) {
        write(text.substr(start, end - start));
        start = end;
      }
      if (!at_end) {
        spaces = ch == U' ';
        breaks = is_break(ch);
      }
    }
  }

  void write_single_quoted(std::u32string_view text, bool split) {
    write_indicator(U"'", true);
    bool spaces = false;
    bool breaks = false;
    std::size_t start = 0;
    for (std::size_t end = 0; end <= text.size(); ++end) {
      const bool at_end = end == text.size();
      const char32_t ch = at_end ? 0 : text[end];
      if (spaces) {
        if (at_end || ch != U' ') {
          if (start + 1 == end && column_ > kBestWidth && split && start != 0 && end != text.size()) {
            write_indent();
          } else {
            write(text.substr(start, end - start));
          }
          start = end;
        }
      } else if (breaks) {
        if (at_end || !is_break(ch)) {
          write_breaks(text.substr(start, end - start));
          write_indent();
          start = end;
        }
      } else if (at_end || ch == U' ' || is_break(ch) || ch == U'\'') {
        if (start < end) {
          write(text.substr(start, end - start));
          start = end;
        }
      }
      if (!at_end && ch == U'\'') {
        write(U"''");
        start = end + 1;
      }
      if (!at_end) {
        spaces = ch == U' ';
        breaks = is_break(ch);
      }
    }
    write_indicator(U"'", false);
  }

  static std::u32string escape(char32_t ch) {
    switch (ch) {
      case 0:
        return U"\\0";
      case 0x07:
        return U"\\a";
      case 0x08:
        return U"\\b";
      case 0x09:
        return U"\\t";
      case 0x0A:
        return U"\\n";
      case 0x0B:
        return U"\\v";
      case 0x0C:
        return U"\\f";
      case 0x0D:
        return U"\\r";
      case 0x1B:
        return U"\\e";
      case U'"':
        return U"\\\"";
      case U'\\':
        return U"\\\\";
      case 0x85:
        return U"\\N";
      case 0xA0:
        return U"\\_";
      case 0x2028:
        return U"\\L";
      case 0x2029:
        return U"\\P";
      default:
        break;
    }
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::u32string out;
    int digits = 8;
    if (ch <= 0xFF) {
      out = U"\\x";
      digits = 2;
    } else if (ch <= 0xFFFF) {
      out = U"\\u";
      digits = 4;
    } else {
      out = U"\\U";
    }
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
      out.push_back(static_cast<char32_t>(kHex[(ch >> shift) & 0xF]));
    }
    return out;
  }

  void write_double_quoted(std::u32string_view text, bool split) {
    write_indicator(U"\"", true);
    std::size_t start = 0;
    for (std::size_t end = 0; end <= text.size(); ++end) {
      const bool at_end = end == text.size();
      const char32_t ch = at_end ? 0 : text[end];
      const bool printable =
          (ch >= 0x20 && ch <= 0x7E) || (ch >= 0xA0 && ch <= 0xD7FF) || (ch >= 0xE000 && ch <= 0xFFFD);
      if (at_end || ch == U'"' || ch == U'\\' || ch == 0x85 || ch == 0x2028 || ch == 0x2029 || ch == 0xFEFF ||
          !printable) {
        if (start < end) {
          write(text.substr(start, end - start));
          start = end;
        }
        if (!at_end) {
          write(escape(ch));
          start = end + 1;
        }
      }
      if (end > 0 && end + 1 < text.size() && (ch == U' ' || start >= end) && column_ + (end - start) > kBestWidth &&
          split) {
        write(text.substr(start, end - start));
        write(U"\\");
        if (start < end) {
          start = end;
        }
        write_indent();
        whitespace_ = false;
        indention_ = false;
        if (text[start] == U' ') {
          write(U"\\");
        }
      }
    }
    write_indicator(U"\"", false);
  }

  static std::u32string to_u32(std::string_view text) {
    auto decoded = decode_utf8(text);
    if (decoded) {
      return std::move(*decoded);
    }
    // Only reachable for text that bypassed encode_text (a hand-built tree):
    // write each byte as its Latin-1 code point rather than fail.
    std::u32string bytes;
    for (const char c : text) {
      bytes.push_back(static_cast<unsigned char>(c));
    }
    return bytes;
  }

  std::string out_;
  std::size_t column_ = 0;
  bool whitespace_ = true;
  bool indention_ = true;
  int indent_ = -1;  // PyYAML's None: no block opened yet
  std::vector<int> indents_;
  int flow_level_ = 0;
};

}  // namespace
}  // namespace detail

std::string emit_yaml_document(const YamlNode& root) {
  return detail::Emitter().document(root);
}

}  // namespace shmkit
