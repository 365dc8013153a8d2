#pragma once
/// @file
/// The small YAML document tree the config module reads into and writes
/// from, and the non-template pieces of parsing and emitting.
///
/// Most users never touch this header: `<shmkit/config/yaml_config.hpp>` is
/// the API. It is public because the templates there are built on it, and
/// because `format_yaml_string` / `format_yaml_file` (the engine behind
/// `shmkit config show`) are useful on their own.
///
/// yaml-cpp does the parsing; the tree keeps yaml-cpp out of shmkit's public
/// headers and carries the two facts the loader needs that a plain value
/// would lose: where each value was written (line:column) and whether a
/// scalar was quoted (a quoted `'5'` is text, never the number 5).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shmkit {

/// A 1-based position in a YAML text; {0, 0} when unknown.
struct YamlMark {
  std::size_t line = 0;
  std::size_t column = 0;
};

/// One node of a YAML document: null, scalar, sequence or mapping.
///
/// Mappings keep their entries in file order as two parallel vectors,
/// `keys` and `items`; keys are always scalars (text).
struct YamlNode {
  enum class Kind : std::uint8_t { null, scalar, sequence, mapping };

  /// A mapping key: its text, where it was written, and whether it was quoted.
  struct Key {
    std::string text;
    YamlMark mark;
    bool quoted = false;
  };

  Kind kind = Kind::null;
  /// Scalar text (UTF-8). Empty for the other kinds.
  std::string text;
  /// Read from a file: the scalar was quoted (`'…'`, `"…"`) or tagged `!!str`,
  /// so it is text. Written to a file: the scalar is text, and is quoted if a
  /// YAML reader would otherwise take it for a number, bool or null.
  bool quoted = false;
  /// Where the node starts in the text it was read from.
  YamlMark mark;
  /// Sequence items, or mapping values (parallel to `keys`).
  std::vector<YamlNode> items;
  /// Mapping keys, in file (or declaration) order.
  std::vector<Key> keys;

  [[nodiscard]] bool is_null() const noexcept { return kind == Kind::null; }
  [[nodiscard]] bool is_scalar() const noexcept { return kind == Kind::scalar; }
  [[nodiscard]] bool is_sequence() const noexcept { return kind == Kind::sequence; }
  [[nodiscard]] bool is_mapping() const noexcept { return kind == Kind::mapping; }

  /// A null node (written `null`).
  static YamlNode null_value() { return {}; }
  /// A scalar that is a number, bool or other YAML-typed value, written as is.
  static YamlNode plain(std::string value) {
    YamlNode node;
    node.kind = Kind::scalar;
    node.text = std::move(value);
    return node;
  }
  /// A scalar holding text; quoted on output when it would otherwise read
  /// back as something else (`'yes'`, `'123'`, `''`).
  static YamlNode string(std::string value) {
    YamlNode node = plain(std::move(value));
    node.quoted = true;
    return node;
  }
  /// An empty sequence; append to `items`.
  static YamlNode sequence() {
    YamlNode node;
    node.kind = Kind::sequence;
    return node;
  }
  /// An empty mapping; add entries with `add`.
  static YamlNode mapping() {
    YamlNode node;
    node.kind = Kind::mapping;
    return node;
  }
  /// Appends `key: value` to a mapping.
  void add(std::string key, YamlNode value) {
    keys.push_back({std::move(key), {}, true});
    items.push_back(std::move(value));
  }
};

/// Parses YAML text that must hold exactly one document.
///
/// @param text    the YAML text (UTF-8).
/// @param origin  the name used in error messages: a file path, or `<string>`.
/// @throws ConfigError on a syntax error (with line:column and yaml-cpp's
///         reason), on an empty text (no document at all), on more than one
///         document, or on a document nested deeper than 256 levels or
///         expanding (through aliases) to more than 16 million nodes.
[[nodiscard]] YamlNode parse_yaml_document(std::string_view text, std::string_view origin);

/// Parses YAML text holding any number of documents (an empty text holds none).
/// @throws ConfigError as for `parse_yaml_document`, except that empty text
///         and several documents are fine.
[[nodiscard]] std::vector<YamlNode> parse_yaml_documents(std::string_view text, std::string_view origin);

/// Writes one document in the flavour of PyYAML's
/// `yaml.dump(data, explicit_start=True, explicit_end=True, sort_keys=False,
/// default_flow_style=False, allow_unicode=True)`: `---` first, `...` last,
/// block style, 2-space indent, sequences under a key not indented, `[]` and
/// `{}` for empty collections, PyYAML's choice of plain, single- or
/// double-quoted scalars and its line folding at 80 columns.
/// Non-ASCII text is written as UTF-8 (PyYAML's default would escape it).
///
/// Scalars must be valid UTF-8 (the encoder in yaml_codec.hpp checks).
[[nodiscard]] std::string emit_yaml_document(const YamlNode& root);

/// Parses any YAML text and writes it back in shmkit's flavour, one
/// `---` … `...` block per document: the engine of `shmkit config show`.
/// Plain scalars stay plain and quoted ones stay text, so the meaning of
/// every value is kept; comments, anchors and key order quirks are not.
/// @throws ConfigError on a syntax error, with line:column.
[[nodiscard]] std::string format_yaml_string(std::string_view text, std::string_view origin = "<string>");

/// `format_yaml_string` on a file's contents (any extension is accepted).
/// @throws NotFoundError if the file does not exist, Error if it cannot be
///         read, ConfigError on a syntax error.
[[nodiscard]] std::string format_yaml_file(const std::filesystem::path& path);

}  // namespace shmkit
