#pragma once
/// @file
/// How each field type becomes a YAML node and back: the templates behind
/// `to_yaml` / `from_yaml`. Internal (namespace `shmkit::detail`); the API
/// and the list of supported types are in `<shmkit/config/yaml_config.hpp>`.

#include <shmkit/config/yaml_node.hpp>

#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/mp11/algorithm.hpp>
#include <boost/mp11/list.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace shmkit {

/// Names the fields of `T` that are never written to nor read from the file
/// (the ataraxis `YAML_EXCLUDE_METADATA` idea): typically where the config
/// lives, or state derived at run time. Loading keeps their in-memory value.
///
/// By default it reads a static member of the struct, so most users write
///
///     struct Session {
///       std::string animal;
///       std::filesystem::path raw_data_path;  // set by the program
///       static constexpr std::array kYamlExclude{std::string_view{"raw_data_path"}};
///     };
///
/// (any array of `std::string_view` or `const char*` works). For a struct
/// you cannot edit, specialise the trait instead:
///
///     template <> struct shmkit::YamlExcludedFields<ThirdParty> {
///       static constexpr std::array<std::string_view, 1> names{"cache_dir"};
///     };
///
/// Every listed name must be a described member; a typo is a compile error.
template <class T>
struct YamlExcludedFields {
  static constexpr std::array<std::string_view, 0> names{};
};

template <class T>
requires requires {
  T::kYamlExclude;
}
struct YamlExcludedFields<T> {
  static constexpr const auto& names = T::kYamlExclude;
};

/// Names the unsigned integer fields of `T` that hold permission bits
/// (`mode_t`). They are written in octal, `mode: 0600`, as chmod spells them,
/// which PyYAML (YAML 1.1, as ataraxis uses it) reads as the int 0o600. On
/// load such a field takes `0600` and `0o600` as octal and a number without
/// a leading 0 as decimal, as Python does: PyYAML dumps 0o600 as `384`, which
/// loads as 0600, and `600` is decimal 600, not 0600. A value above 07777
/// (the bits chmod takes) is refused on load and on save.
///
/// As with `kYamlExclude`, a static member of the struct names them,
///
///     struct Share {
///       mode_t mode = 0600;
///       static constexpr std::array kYamlOctal{std::string_view{"mode"}};
///     };
///
/// or a specialisation of this trait for a struct you cannot edit. Every
/// listed name must be a described member; a typo is a compile error.
template <class T>
struct YamlOctalFields {
  static constexpr std::array<std::string_view, 0> names{};
};

template <class T>
requires requires {
  T::kYamlOctal;
}
struct YamlOctalFields<T> {
  static constexpr const auto& names = T::kYamlOctal;
};

namespace detail {

// ---------------------------------------------------------------- key paths

/// The dotted path of the value being read or written (`camera.roi[2]`),
/// kept as views so that building it costs nothing until an error needs it.
class KeyPath {
 public:
  void push(std::string_view key) { segments_.push_back({key, 0, false}); }
  void push(std::size_t index) { segments_.push_back({{}, index, true}); }
  void pop() noexcept { segments_.pop_back(); }
  /// `camera.roi[2]`; keys that are not identifiers are quoted: `gains['left eye']`.
  [[nodiscard]] std::string str() const;

 private:
  struct Segment {
    std::string_view key;
    std::size_t index;
    bool is_index;
  };
  std::vector<Segment> segments_;
};

/// Pushes one path segment for the lifetime of the scope.
class PathScope {
 public:
  template <class Segment>
  PathScope(KeyPath& path, Segment segment) : path_(path) {
    path_.push(segment);
  }
  PathScope(const PathScope&) = delete;
  PathScope& operator=(const PathScope&) = delete;
  ~PathScope() { path_.pop(); }

 private:
  KeyPath& path_;
};

/// State of one load: where the text came from, the path being read, options.
struct DecodeContext {
  std::string_view origin;  ///< file path or `<string>`, for messages
  bool allow_unknown_keys = false;
  KeyPath path;

  /// Throws ConfigError "<origin>:<line>:<col>: <path>: <reason>".
  [[noreturn]] void fail(const YamlMark& mark, const std::string& reason) const;
};

/// State of one save: the target (for messages) and the path being written.
struct EncodeContext {
  std::string_view target;  ///< file path, or empty for a string
  KeyPath path;

  /// Throws ConfigError "<target>: <path>: <reason>".
  [[noreturn]] void fail(const std::string& reason) const;
};

// ------------------------------------------------- non-template scalar codecs

[[nodiscard]] bool decode_bool(const YamlNode& node, DecodeContext& ctx);
/// The number decoders' `expected` names the value in messages ("expected
/// a whole number of milliseconds, found '1s'").
[[nodiscard]] std::int64_t decode_signed(const YamlNode& node, DecodeContext& ctx, int bits,
                                         std::string_view expected = "a whole number");
[[nodiscard]] std::uint64_t decode_unsigned(const YamlNode& node, DecodeContext& ctx, int bits,
                                            std::string_view expected = "a whole number");
/// An octal field: `0600` and `0o600` are octal, `384` decimal (see
/// YamlOctalFields); more than the permission bits (07777) is out of range.
[[nodiscard]] std::uint64_t decode_octal(const YamlNode& node, DecodeContext& ctx, int bits);
[[nodiscard]] double decode_double(const YamlNode& node, DecodeContext& ctx, std::string_view expected = "a number");
[[nodiscard]] float decode_float(const YamlNode& node, DecodeContext& ctx, std::string_view expected = "a number");
/// "milliseconds" for std::milli, "units of 1/60 s" for a period without a name.
[[nodiscard]] std::string duration_unit(std::intmax_t num, std::intmax_t den);
/// Any scalar, as text; `what` names the expected value ("text", "a file path").
[[nodiscard]] const std::string& decode_text(const YamlNode& node, DecodeContext& ctx, std::string_view what);
/// Index of the scalar in `names`; the error lists the valid names.
[[nodiscard]] std::size_t decode_choice(const YamlNode& node, DecodeContext& ctx,
                                        std::span<const std::string_view> names);
void expect_mapping(const YamlNode& node, DecodeContext& ctx);
void expect_sequence(const YamlNode& node, DecodeContext& ctx);
void expect_length(const YamlNode& node, DecodeContext& ctx, std::size_t length);
[[noreturn]] void fail_unknown_key(const YamlNode::Key& key, DecodeContext& ctx,
                                   std::span<const std::string_view> known, std::span<const std::string_view> excluded);
[[noreturn]] void fail_excluded_key(const YamlNode::Key& key, DecodeContext& ctx);
/// The three key errors take `ctx.path` at the mapping and add the key themselves.
[[noreturn]] void fail_duplicate_key(const YamlNode::Key& key, const YamlMark& first, DecodeContext& ctx);
/// Where `key` first appears in `mapping`.
[[nodiscard]] YamlMark first_key_mark(const YamlNode& mapping, std::string_view key);

/// Python `repr` of the value as PyYAML writes it: `1.0`, `1.0e-05`, `.inf`, `.nan`.
[[nodiscard]] std::string format_double(double value);
/// The shortest text that reads back as this float, in the same style.
[[nodiscard]] std::string format_float(float value);
/// `0600`, as PyYAML reads octal ints; `0` for zero. ConfigError above 07777,
/// which would not load back.
[[nodiscard]] YamlNode encode_octal(std::uint64_t value, EncodeContext& ctx);
/// A text scalar; ConfigError if `text` is not valid UTF-8 (YAML files are Unicode).
[[nodiscard]] YamlNode encode_text(std::string_view text, EncodeContext& ctx);
[[noreturn]] void fail_unnamed_enum(long long value, std::span<const std::string_view> names, EncodeContext& ctx);

// -------------------------------------------------------------- type traits

template <class T>
inline constexpr bool kIsOptional = false;
template <class T>
inline constexpr bool kIsOptional<std::optional<T>> = true;

template <class T>
inline constexpr bool kIsVector = false;
template <class T, class A>
inline constexpr bool kIsVector<std::vector<T, A>> = true;

template <class T>
inline constexpr bool kIsStdArray = false;
template <class T, std::size_t N>
inline constexpr bool kIsStdArray<std::array<T, N>> = true;

template <class T>
inline constexpr bool kIsStringMap = false;
template <class T, class C, class A>
inline constexpr bool kIsStringMap<std::map<std::string, T, C, A>> = true;

template <class T>
inline constexpr bool kIsDuration = false;
template <class Rep, class Period>
inline constexpr bool kIsDuration<std::chrono::duration<Rep, Period>> = true;

template <class T>
inline constexpr bool kIsCharacter =
    std::is_same_v<T, char> || std::is_same_v<T, wchar_t> || std::is_same_v<T, char8_t> ||
    std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>;

template <class T>
inline constexpr bool kIsInteger = std::is_integral_v<T> && !std::is_same_v<T, bool> && !kIsCharacter<T>;

template <class T>
inline constexpr bool kIsDescribedStruct = std::is_class_v<T>&& boost::describe::has_describe_members<T>::value;

template <class T>
inline constexpr bool kIsDescribedEnum = std::is_enum_v<T>&& boost::describe::has_describe_enumerators<T>::value;

template <class>
inline constexpr bool kAlwaysFalse = false;

/// Public members, including those of described base classes (listed first,
/// as Python dataclasses list inherited fields first).
template <class T>
using MemberList = boost::describe::describe_members<T, boost::describe::mod_public | boost::describe::mod_inherited>;

template <class T>
inline constexpr std::size_t kMemberCount = boost::mp11::mp_size<MemberList<T>>::value;

template <class T>
constexpr std::array<std::string_view, kMemberCount<T>> member_names() {
  std::array<std::string_view, kMemberCount<T>> names{};
  std::size_t i = 0;
  boost::mp11::mp_for_each<MemberList<T>>([&](auto member) { names[i++] = decltype(member)::name; });
  return names;
}

template <class T>
constexpr bool is_excluded(std::string_view name) {
  for (const std::string_view excluded : YamlExcludedFields<T>::names) {
    if (excluded == name) {
      return true;
    }
  }
  return false;
}

template <class T>
constexpr bool is_octal(std::string_view name) {
  for (const std::string_view octal : YamlOctalFields<T>::names) {
    if (octal == name) {
      return true;
    }
  }
  return false;
}

/// Every name of a field list (`YamlExcludedFields<T>`, `YamlOctalFields<T>`)
/// is a described member of T.
template <class T, class Fields>
constexpr bool listed_fields_exist() {
  constexpr auto names = member_names<T>();
  for (const std::string_view listed : Fields::names) {
    if (std::find(names.begin(), names.end(), listed) == names.end()) {
      return false;
    }
  }
  return true;
}

template <class T>
constexpr bool check_field_lists() {
  static_assert(listed_fields_exist<T, YamlExcludedFields<T>>(),
                "shmkit config: every name in kYamlExclude / YamlExcludedFields must be a described member");
  static_assert(listed_fields_exist<T, YamlOctalFields<T>>(),
                "shmkit config: every name in kYamlOctal / YamlOctalFields must be a described member");
  return true;
}

template <class Field>
constexpr void check_octal_field() {
  static_assert(std::is_integral_v<Field> && std::is_unsigned_v<Field> && !std::is_same_v<Field, bool>,
                "shmkit config: a field listed in kYamlOctal / YamlOctalFields must be an unsigned integer "
                "(such as mode_t)");
}

template <class T>
constexpr auto excluded_names() {
  std::array<std::string_view, std::size(YamlExcludedFields<T>::names)> names{};
  std::size_t i = 0;
  for (const std::string_view excluded : YamlExcludedFields<T>::names) {
    names[i++] = excluded;
  }
  return names;
}

inline constexpr std::size_t kNoMember = static_cast<std::size_t>(-1);

/// Index of the member called `key`, or kNoMember. Large structs use a
/// table sorted at compile time, so a 50-field struct costs ~6 comparisons
/// per key instead of 50.
template <class T>
std::size_t find_member(std::string_view key) {
  static constexpr auto kNames = member_names<T>();
  if constexpr (kNames.size() <= 12) {
    for (std::size_t i = 0; i < kNames.size(); ++i) {
      if (kNames[i] == key) {
        return i;
      }
    }
    return kNoMember;
  } else {
    static constexpr auto kSorted = [] {
      std::array<std::pair<std::string_view, std::size_t>, kNames.size()> sorted{};
      for (std::size_t i = 0; i < kNames.size(); ++i) {
        sorted[i] = {kNames[i], i};
      }
      std::sort(sorted.begin(), sorted.end());
      return sorted;
    }();
    const auto it = std::lower_bound(kSorted.begin(), kSorted.end(), key,
                                     [](const auto& entry, std::string_view k) { return entry.first < k; });
    return (it != kSorted.end() && it->first == key) ? it->second : kNoMember;
  }
}

template <class E>
constexpr auto enumerator_names() {
  using List = boost::describe::describe_enumerators<E>;
  std::array<std::string_view, boost::mp11::mp_size<List>::value> names{};
  std::size_t i = 0;
  boost::mp11::mp_for_each<List>([&](auto e) { names[i++] = decltype(e)::name; });
  return names;
}

template <class E>
constexpr auto enumerator_values() {
  using List = boost::describe::describe_enumerators<E>;
  std::array<E, boost::mp11::mp_size<List>::value> values{};
  std::size_t i = 0;
  boost::mp11::mp_for_each<List>([&](auto e) { values[i++] = decltype(e)::value; });
  return values;
}

template <class T>
constexpr void check_supported() {
  static_assert(!kIsCharacter<T>,
                "shmkit config: a char field is ambiguous; use std::string for text or std::int8_t / std::uint8_t "
                "for a small number");
  static_assert(!std::is_enum_v<T> || kIsDescribedEnum<T>,
                "shmkit config: describe the enum with BOOST_DESCRIBE_ENUM(Enum, a, b, ...) so it can be written "
                "by name");
  static_assert(!std::is_floating_point_v<T> || std::is_same_v<T, float> || std::is_same_v<T, double>,
                "shmkit config: only float and double are supported (Python has no long double)");
}

/// The number a duration is written as: its count in its own unit.
template <class Duration>
std::string duration_expected() {
  using Period = typename Duration::period;
  return std::string(kIsInteger<typename Duration::rep> ? "a whole number of " : "a number of ") +
         duration_unit(Period::num, Period::den);
}

// ------------------------------------------------------------------ encoding

template <class T>
YamlNode encode_value(const T& value, EncodeContext& ctx);

template <class T>
YamlNode encode_struct(const T& value, EncodeContext& ctx) {
  static_assert(check_field_lists<T>());
  YamlNode node = YamlNode::mapping();
  node.keys.reserve(kMemberCount<T>);
  node.items.reserve(kMemberCount<T>);
  boost::mp11::mp_for_each<MemberList<T>>([&](auto member) {
    using Member = decltype(member);
    if constexpr (!is_excluded<T>(Member::name)) {
      const PathScope scope(ctx.path, std::string_view(Member::name));
      if constexpr (is_octal<T>(Member::name)) {
        check_octal_field<std::remove_cvref_t<decltype(value.*Member::pointer)>>();
        node.add(Member::name, encode_octal(value.*Member::pointer, ctx));
      } else {
        node.add(Member::name, encode_value(value.*Member::pointer, ctx));
      }
    }
  });
  return node;
}

template <class T>
YamlNode encode_value(const T& value, EncodeContext& ctx) {
  check_supported<T>();
  if constexpr (std::is_same_v<T, bool>) {
    return YamlNode::plain(value ? "true" : "false");
  } else if constexpr (kIsInteger<T>) {
    return YamlNode::plain(std::to_string(value));
  } else if constexpr (std::is_same_v<T, double>) {
    return YamlNode::plain(format_double(value));
  } else if constexpr (std::is_same_v<T, float>) {
    return YamlNode::plain(format_float(value));
  } else if constexpr (std::is_same_v<T, std::string>) {
    return encode_text(value, ctx);
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    return encode_text(value.generic_string(), ctx);
  } else if constexpr (kIsDuration<T>) {
    return encode_value(value.count(), ctx);
  } else if constexpr (kIsDescribedEnum<T>) {
    static constexpr auto kNames = enumerator_names<T>();
    static constexpr auto kValues = enumerator_values<T>();
    for (std::size_t i = 0; i < kValues.size(); ++i) {
      if (kValues[i] == value) {
        return encode_text(kNames[i], ctx);
      }
    }
    fail_unnamed_enum(static_cast<long long>(value), kNames, ctx);
  } else if constexpr (kIsOptional<T>) {
    return value.has_value() ? encode_value(*value, ctx) : YamlNode::null_value();
  } else if constexpr (kIsVector<T> || kIsStdArray<T>) {
    YamlNode node = YamlNode::sequence();
    node.items.reserve(value.size());
    std::size_t index = 0;
    for (const auto& item : value) {
      const PathScope scope(ctx.path, index++);
      node.items.push_back(encode_value(static_cast<const typename T::value_type&>(item), ctx));
    }
    return node;
  } else if constexpr (kIsStringMap<T>) {
    YamlNode node = YamlNode::mapping();
    for (const auto& [key, item] : value) {
      const PathScope scope(ctx.path, std::string_view(key));
      YamlNode key_node = encode_text(key, ctx);
      node.add(std::move(key_node.text), encode_value(item, ctx));
    }
    return node;
  } else if constexpr (kIsDescribedStruct<T>) {
    return encode_struct(value, ctx);
  } else {
    static_assert(kAlwaysFalse<T>,
                  "shmkit config: unsupported field type. Supported: bool, integers, float, double, std::string, "
                  "std::filesystem::path, std::chrono::duration, enums described with BOOST_DESCRIBE_ENUM, "
                  "std::optional, std::vector, std::array, std::map<std::string, T>, and structs described with "
                  "BOOST_DESCRIBE_STRUCT");
  }
}

// ------------------------------------------------------------------ decoding

template <class T>
void decode_value(const YamlNode& node, T& out, DecodeContext& ctx);

template <class T>
void decode_struct(const YamlNode& node, T& out, DecodeContext& ctx) {
  static_assert(check_field_lists<T>());
  constexpr std::size_t kCount = kMemberCount<T>;
  expect_mapping(node, ctx);
  std::array<const YamlNode::Key*, kCount> seen{};
  for (std::size_t entry = 0; entry < node.keys.size(); ++entry) {
    const YamlNode::Key& key = node.keys[entry];
    const std::size_t index = find_member<T>(key.text);
    if (index == kNoMember) {
      if (ctx.allow_unknown_keys) {
        continue;
      }
      static constexpr auto kNames = member_names<T>();
      static constexpr auto kExcluded = excluded_names<T>();
      fail_unknown_key(key, ctx, kNames, kExcluded);
    }
    if constexpr (kCount > 0) {
      if (seen[index] != nullptr) {
        fail_duplicate_key(key, seen[index]->mark, ctx);
      }
      seen[index] = &key;
      boost::mp11::mp_with_index<kCount>(index, [&](auto i) {
        using Member = boost::mp11::mp_at_c<MemberList<T>, decltype(i)::value>;
        if constexpr (is_excluded<T>(Member::name)) {
          if (!ctx.allow_unknown_keys) {
            fail_excluded_key(key, ctx);
          }
        } else if constexpr (is_octal<T>(Member::name)) {
          using Field = std::remove_cvref_t<decltype(out.*Member::pointer)>;
          check_octal_field<Field>();
          const PathScope scope(ctx.path, std::string_view(Member::name));
          out.*Member::pointer =
              static_cast<Field>(decode_octal(node.items[entry], ctx, std::numeric_limits<Field>::digits));
        } else {
          const PathScope scope(ctx.path, std::string_view(Member::name));
          decode_value(node.items[entry], out.*Member::pointer, ctx);
        }
      });
    }
  }
}

template <class T>
void decode_value(const YamlNode& node, T& out, DecodeContext& ctx) {
  check_supported<T>();
  if constexpr (std::is_same_v<T, bool>) {
    out = decode_bool(node, ctx);
  } else if constexpr (kIsInteger<T>) {
    constexpr int kBits = std::numeric_limits<T>::digits + (std::is_signed_v<T> ? 1 : 0);
    if constexpr (std::is_signed_v<T>) {
      out = static_cast<T>(decode_signed(node, ctx, kBits));
    } else {
      out = static_cast<T>(decode_unsigned(node, ctx, kBits));
    }
  } else if constexpr (std::is_same_v<T, double>) {
    out = decode_double(node, ctx);
  } else if constexpr (std::is_same_v<T, float>) {
    out = decode_float(node, ctx);
  } else if constexpr (std::is_same_v<T, std::string>) {
    out = decode_text(node, ctx, "text");
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    out = std::filesystem::path(decode_text(node, ctx, "a file path"));
  } else if constexpr (kIsDuration<T>) {
    using Rep = typename T::rep;
    check_supported<Rep>();
    static_assert(kIsInteger<Rep> || std::is_floating_point_v<Rep>,
                  "shmkit config: a std::chrono::duration field must count in an integer or floating-point type");
    if constexpr (kIsInteger<Rep>) {
      constexpr int kBits = std::numeric_limits<Rep>::digits + (std::is_signed_v<Rep> ? 1 : 0);
      if constexpr (std::is_signed_v<Rep>) {
        out = T(static_cast<Rep>(decode_signed(node, ctx, kBits, duration_expected<T>())));
      } else {
        out = T(static_cast<Rep>(decode_unsigned(node, ctx, kBits, duration_expected<T>())));
      }
    } else if constexpr (std::is_same_v<Rep, float>) {
      out = T(decode_float(node, ctx, duration_expected<T>()));
    } else {
      out = T(decode_double(node, ctx, duration_expected<T>()));
    }
  } else if constexpr (kIsDescribedEnum<T>) {
    static constexpr auto kNames = enumerator_names<T>();
    static constexpr auto kValues = enumerator_values<T>();
    out = kValues[decode_choice(node, ctx, kNames)];
  } else if constexpr (kIsOptional<T>) {
    if (node.is_null()) {
      out.reset();
    } else {
      if (!out.has_value()) {
        out.emplace();
      }
      decode_value(node, *out, ctx);
    }
  } else if constexpr (kIsVector<T>) {
    expect_sequence(node, ctx);
    T result;
    result.reserve(node.items.size());
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      const PathScope scope(ctx.path, i);
      typename T::value_type item{};
      decode_value(node.items[i], item, ctx);
      result.push_back(std::move(item));
    }
    out = std::move(result);
  } else if constexpr (kIsStdArray<T>) {
    expect_length(node, ctx, std::tuple_size_v<T>);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const PathScope scope(ctx.path, i);
      decode_value(node.items[i], out[i], ctx);
    }
  } else if constexpr (kIsStringMap<T>) {
    expect_mapping(node, ctx);
    T result;
    for (std::size_t i = 0; i < node.keys.size(); ++i) {
      const YamlNode::Key& key = node.keys[i];
      if (result.contains(key.text)) {
        fail_duplicate_key(key, first_key_mark(node, key.text), ctx);
      }
      typename T::mapped_type item{};
      {
        const PathScope scope(ctx.path, std::string_view(key.text));
        decode_value(node.items[i], item, ctx);
      }
      result.emplace(key.text, std::move(item));
    }
    out = std::move(result);
  } else if constexpr (kIsDescribedStruct<T>) {
    decode_struct(node, out, ctx);
  } else {
    static_assert(kAlwaysFalse<T>,
                  "shmkit config: unsupported field type. Supported: bool, integers, float, double, std::string, "
                  "std::filesystem::path, std::chrono::duration, enums described with BOOST_DESCRIBE_ENUM, "
                  "std::optional, std::vector, std::array, std::map<std::string, T>, and structs described with "
                  "BOOST_DESCRIBE_STRUCT");
  }
}

}  // namespace detail
}  // namespace shmkit
