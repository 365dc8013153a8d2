#pragma once
/// @file
/// Plain C++ structs saved to and loaded from human-editable YAML files: the
/// C++ counterpart of ataraxis' `YamlConfig`.
///
/// Describe a struct once, with Boost.Describe, and it can be saved and loaded:
///
///     enum class Trigger { internal, external };
///     BOOST_DESCRIBE_ENUM(Trigger, internal, external)
///
///     struct CameraConfig {
///       std::uint32_t exposure_us = 10'000;
///       double gain = 1.0;
///       std::array<std::uint16_t, 4> roi{0, 0, 640, 480};
///       Trigger trigger = Trigger::internal;
///       std::optional<std::string> serial;
///     };
///     BOOST_DESCRIBE_STRUCT(CameraConfig, (), (exposure_us, gain, roi, trigger, serial))
///
///     shmkit::to_yaml(camera, "camera.yaml");
///     auto again = shmkit::from_yaml<CameraConfig>("camera.yaml");
///
/// or, like the Python API, derive from the `YamlConfig` mixin:
/// `struct RigConfig : shmkit::YamlConfig<RigConfig> {...};` then
/// `rig.to_yaml(path)` and `RigConfig::from_yaml(path)`.
///
/// ## Field types
///
/// `bool`; every integer type (range-checked: 300 in a `std::uint8_t` field is
/// an error, never 44); `float`, `double`; `std::string`;
/// `std::filesystem::path` (written with `/` separators);
/// `std::chrono::duration` (its count in its own unit, a plain number a
/// Python `int` or `float` field reads: a `std::chrono::milliseconds` of
/// 1.5 s is `1500`, a `std::chrono::duration<double>` of it `1.5`); enums
/// described with `BOOST_DESCRIBE_ENUM` (written by name); `std::optional<T>`
/// (`null` when empty); `std::vector<T>`; `std::array<T, N>` (the file must
/// hold exactly N items); `std::map<std::string, T>`; structs described with
/// `BOOST_DESCRIBE_STRUCT` (nested to any depth; members of described base
/// classes come first); and any combination of these. Any other type is a
/// compile error that lists these. Only public members are saved, and only
/// the described ones: leave callbacks (`std::function`) and other run-time
/// state out of the description and a load keeps them as they are.
///
/// Permission bits (`mode_t`, an unsigned integer to C++) are written in
/// octal, `mode: 0600`, when the struct lists the field in `kYamlOctal` (see
/// `YamlOctalFields`): PyYAML reads that as the int 0o600 and writes it back
/// as `384`, and both forms load here as 0600.
///
/// ## The file
///
/// Written in the flavour of PyYAML's `yaml.dump(data, explicit_start=True,
/// explicit_end=True, sort_keys=False, default_flow_style=False)`, so a
/// Python `YamlConfig` dataclass (or plain `yaml.safe_load`) reads it and
/// files written by Python load here:
///
///     ---
///     exposure_us: 10000
///     gain: 1.0
///     roi:
///     - 0
///     - 0
///     - 640
///     - 480
///     trigger: internal
///     serial: null
///     ...
///
/// Keys come in declaration order; strings are quoted only where YAML needs
/// it (`'yes'`, `'123'`, `''`); floats look like Python's (`1.0`,
/// `1.0e-05`, `.inf`, `.nan`); empty collections are `[]` and `{}`. Text is
/// UTF-8 (PyYAML escapes non-ASCII unless given `allow_unicode=True`; both
/// read the same).
///
/// ## Loading rules
///
/// - A key missing from the file keeps the value the struct already has (its
///   default for `from_yaml`). A `std::vector` or `std::map` in the file
///   replaces the whole container.
/// - A key the struct does not have is an error, with a "did you mean"
///   suggestion for near misses, unless `YamlLoadOptions::allow_unknown_keys`
///   is set (Python's YamlConfig ignores them; shmkit does not by default,
///   because a misspelt key would silently run an experiment on a default).
/// - A value of the wrong kind is an error. Numbers and bools must be
///   unquoted: `'5'` is text. `yes`/`no`/`on`/`off` are accepted as bools,
///   as PyYAML reads them. Integers may be written `0x1f`, `0o17`, `0b101` or
///   with `_` separators; `010` is refused (YAML 1.1 reads it as octal 8),
///   except in an octal field, where `0600` is octal as in YAML 1.1.
///   Any scalar is accepted for a text field; `null` is accepted only for
///   `std::optional` fields.
/// - Loading is all or nothing: on any error the target struct is unchanged.
///
/// ## Errors
///
/// Every problem with a file's contents is a `ConfigError` whose message
/// reads `<file>:<line>:<column>: <key path>: <reason>`, for example
///
///     rig.yaml:7:3: camera.roi[2]: 70000 is out of range: this setting is a
///     16-bit unsigned integer (0 to 65535)
///
/// and whose `key_path()`, `file()`, `line()` and `column()` give the parts.
/// The causes:
///
/// | cause | example reason |
/// |---|---|
/// | YAML syntax error | `YAML syntax error: illegal map value` (+ a hint for tabs) |
/// | empty file, or only `---`/`...` | `the file holds no settings (it is empty)` |
/// | several documents in one file | `the file holds 2 YAML documents; a configuration file holds one` |
/// | document is not a mapping | `expected 'key: value' settings at the top level, found a list` |
/// | unknown key | `unknown setting 'gian'; did you mean 'gain'?` |
/// | key given twice | `'gain' is set twice (first on line 3)` |
/// | excluded key present | `'raw_data_path' is not read from the file (the program sets it); delete this line` |
/// | wrong kind of value | `expected a whole number, found '1.5'` / `expected a list, found text 'x'` |
/// | a unit in a duration | `expected a whole number of milliseconds, found '1s'` |
/// | digit 8 or 9 in an octal field | `'0680' is not an octal number (digits 0 to 7 after the leading 0)` |
/// | octal field above 07777 | `'010600' is out of range: permission bits are 0 to 07777 (...)` |
/// | integer out of range | `300 is out of range: this setting is an 8-bit unsigned integer (0 to 255)` |
/// | float out of range | `1e999 is out of range for a 64-bit float` |
/// | wrong `std::array` length | `expected a list of exactly 4 items, found 3` |
/// | bad enum name | `'fsat' is not a valid choice; expected one of: slow, fast; did you mean 'fast'?` |
/// | null in a non-optional field | `expected a number, found nothing (null)` |
///
/// On save, a `ConfigError` (no line) reports a path not ending in
/// `.yaml`/`.yml`, text that is not valid UTF-8, an enum holding a value
/// with no name, or an octal field above 07777. Reading or writing the file itself throws `NotFoundError`
/// (the file or directory does not exist) or `Error` with the errno.
///
/// ## Thread and process safety
///
/// The functions share no state; they are safe to call from any thread. A
/// save is atomic with respect to other processes: a reader sees the old
/// file or the new one, never a mix.
///
/// ## Caveats
///
/// - Boost.Describe accepts at most 52 members per `BOOST_DESCRIBE_STRUCT`;
///   group larger configs into nested structs (which also reads better).
/// - Comments in a file are not kept when the program saves it again.
/// - A process killed in the middle of a save leaves the old file intact and
///   may leave a hidden temporary file `.<name>.<pid>-<n>.tmp` next to it.

#include <shmkit/config/yaml_codec.hpp>
#include <shmkit/config/yaml_node.hpp>
#include <shmkit/core/error.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace shmkit {

/// How a file is loaded.
struct YamlLoadOptions {
  /// Accept and ignore keys the struct does not have, and keys of excluded
  /// fields, as Python's YamlConfig does. Off by default: a misspelt key is
  /// an error, so a typo never silently runs with a default value.
  bool allow_unknown_keys = false;
};

/// A struct described with `BOOST_DESCRIBE_STRUCT` (or `BOOST_DESCRIBE_CLASS`),
/// default-constructible and copyable: what `to_yaml` / `from_yaml` accept.
template <class T>
concept YamlStruct =
    detail::kIsDescribedStruct<T> && std::is_default_constructible_v<T> && std::is_copy_assignable_v<T>;

namespace detail {

/// ConfigError unless `path` ends in `.yaml` or `.yml`; `action` is "save" or "load".
void check_yaml_extension(const std::filesystem::path& path, std::string_view action);
/// The whole file. @throws NotFoundError, Error (errno).
[[nodiscard]] std::string read_config_file(const std::filesystem::path& path);
/// Temp file in the same directory, write, fsync, rename over `path`, fsync
/// the directory. @throws Error (errno); `path` is untouched on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

template <class T>
void decode_document(const YamlNode& root, T& config, std::string_view origin, const YamlLoadOptions& options) {
  T updated = config;
  DecodeContext ctx{origin, options.allow_unknown_keys, {}};
  decode_value(root, updated, ctx);
  config = std::move(updated);
}

}  // namespace detail

/// The YAML text `to_yaml` would write for `config`.
/// @throws ConfigError if a string is not valid UTF-8, an enum holds a
///         value with no name, or an octal field holds more than the
///         permission bits 07777 (the key path says which).
template <YamlStruct T>
[[nodiscard]] std::string to_yaml_string(const T& config) {
  detail::EncodeContext ctx{{}, {}};
  return emit_yaml_document(detail::encode_value(config, ctx));
}

/// Saves `config` to `path` atomically: the text goes to a temporary file in
/// the same directory, which is fsynced and renamed over `path`, and the
/// directory is fsynced. A failed save leaves any previous file byte-for-byte
/// as it was. Missing parent directories are created (as ataraxis does). If
/// `path` is a symbolic link, the file it points to is replaced. A new file
/// gets mode 0666 minus the umask; a replaced file keeps its mode.
/// @throws ConfigError if `path` does not end in `.yaml` or `.yml`, or as
///         `to_yaml_string`; NotFoundError / Error (with errno) if the
///         directory cannot be created or the file cannot be written
///         (no space, read-only file system, file size limit, permissions).
template <YamlStruct T>
void to_yaml(const T& config, const std::filesystem::path& path) {
  detail::check_yaml_extension(path, "save");
  const std::string target = path.string();
  detail::EncodeContext ctx{target, {}};
  detail::write_file_atomically(path, emit_yaml_document(detail::encode_value(config, ctx)));
}

/// Updates `config` from YAML text: keys present in the text overwrite
/// fields, everything else (missing keys, excluded fields) keeps its value.
/// All or nothing: on error `config` is unchanged. Messages name the text
/// `<string>`.
/// @throws ConfigError (see the table in the file comment).
template <YamlStruct T>
void update_from_yaml_string(T& config, std::string_view yaml, const YamlLoadOptions& options = {}) {
  constexpr std::string_view kOrigin = "<string>";
  detail::decode_document(parse_yaml_document(yaml, kOrigin), config, kOrigin, options);
}

/// Updates `config` from a file, as `update_from_yaml_string`.
/// @throws ConfigError if `path` does not end in `.yaml` or `.yml`, or for
///         the file's contents; NotFoundError if it does not exist; Error if
///         it cannot be read.
template <YamlStruct T>
void update_from_yaml(T& config, const std::filesystem::path& path, const YamlLoadOptions& options = {}) {
  detail::check_yaml_extension(path, "load");
  const std::string origin = path.string();
  const std::string text = detail::read_config_file(path);
  detail::decode_document(parse_yaml_document(text, origin), config, origin, options);
}

/// A `T` built from its defaults and YAML text.
/// @throws ConfigError (see the table in the file comment).
template <YamlStruct T>
[[nodiscard]] T from_yaml_string(std::string_view yaml, const YamlLoadOptions& options = {}) {
  T config{};
  update_from_yaml_string(config, yaml, options);
  return config;
}

/// A `T` built from its defaults and a YAML file.
/// @throws as `update_from_yaml`.
template <YamlStruct T>
[[nodiscard]] T from_yaml(const std::filesystem::path& path, const YamlLoadOptions& options = {}) {
  T config{};
  update_from_yaml(config, path, options);
  return config;
}

/// CRTP mixin giving a described struct the methods of Python's
/// `YamlConfig`: `cfg.to_yaml(path)`, `Derived::from_yaml(path)` and friends.
///
///     struct RigConfig : shmkit::YamlConfig<RigConfig> {
///       std::string animal = "mouse-1";
///       CameraConfig camera;
///     };
///     BOOST_DESCRIBE_STRUCT(RigConfig, (), (animal, camera))
///
/// Do not list `YamlConfig<...>` among the described bases; it holds no data.
/// The methods behave (and throw) exactly as the free functions.
template <class Derived>
struct YamlConfig {
  /// Saves atomically to `path` (see `shmkit::to_yaml`).
  void to_yaml(const std::filesystem::path& path) const { ::shmkit::to_yaml(self(), path); }
  /// The YAML text of this config.
  [[nodiscard]] std::string to_yaml_string() const { return ::shmkit::to_yaml_string(self()); }
  /// Overwrites the fields present in `path`; all or nothing.
  void update_from_yaml(const std::filesystem::path& path, const YamlLoadOptions& options = {}) {
    ::shmkit::update_from_yaml(self(), path, options);
  }
  /// Overwrites the fields present in `yaml`; all or nothing.
  void update_from_yaml_string(std::string_view yaml, const YamlLoadOptions& options = {}) {
    ::shmkit::update_from_yaml_string(self(), yaml, options);
  }
  /// A config built from defaults and `path`.
  [[nodiscard]] static Derived from_yaml(const std::filesystem::path& path, const YamlLoadOptions& options = {}) {
    return ::shmkit::from_yaml<Derived>(path, options);
  }
  /// A config built from defaults and `yaml`.
  [[nodiscard]] static Derived from_yaml_string(std::string_view yaml, const YamlLoadOptions& options = {}) {
    return ::shmkit::from_yaml_string<Derived>(yaml, options);
  }

 private:
  [[nodiscard]] const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
  [[nodiscard]] Derived& self() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace shmkit
