#pragma once
// Command-line options that override the settings of a --config file.
// Each registered option keeps the value CLI11 parsed and, when the option
// was given, writes it into the options loaded from the file; an option
// not given leaves the file's value (or the default) alone. One
// registration per setting, instead of a member for the parsed value, a
// member for its CLI::Option* and an if-block that copies it.

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace shmkit::cli {

template <class Options>
class ConfigOverrides {
 public:
  /// An option parsed into a T that starts as `initial` (what --help shows
  /// with capture_default_str) and, when given, is applied with
  /// `apply(options, value)`.
  template <class T, class Apply>
  CLI::Option* add(CLI::App& app, const std::string& names, T initial, const std::string& help, Apply apply) {
    auto value = std::make_shared<T>(std::move(initial));
    CLI::Option* option = app.add_option(names, *value, help);
    remember(option, value, std::move(apply));
    return option;
  }

  /// An option for a field of Options, parsed as the field's type.
  template <class T>
  CLI::Option* add(CLI::App& app, const std::string& names, T Options::*field, const std::string& help) {
    return add(app, names, Options{}.*field, help,
               [field](Options& options, const T& value) { options.*field = value; });
  }

  /// An option for a duration field, given as a count of its own unit (as
  /// in the config file); a count below zero is not accepted.
  template <class Rep, class Period>
  CLI::Option* add(CLI::App& app, const std::string& names, std::chrono::duration<Rep, Period> Options::*field,
                   const std::string& help) {
    const auto initial = static_cast<std::uint64_t>((Options{}.*field).count());
    return add(app, names, initial, help, [field](Options& options, std::uint64_t count) {
      options.*field = std::chrono::duration<Rep, Period>(static_cast<Rep>(count));
    });
  }

  /// A switch for a bool field: `names` such as "--prefault,!--no-prefault",
  /// so that it can turn off what the file turns on.
  CLI::Option* add_flag(CLI::App& app, const std::string& names, bool Options::*field, const std::string& help) {
    auto value = std::make_shared<bool>(Options{}.*field);
    CLI::Option* option = app.add_flag(names, *value, help);
    remember(option, value, [field](Options& options, bool given) { options.*field = given; });
    return option;
  }

  /// Writes every option that was given into `options`.
  void apply(Options& options) const {
    for (const auto& [option, write] : overrides_) {
      if (option->count() > 0) {
        write(options);
      }
    }
  }

 private:
  template <class T, class Apply>
  void remember(CLI::Option* option, std::shared_ptr<T> value, Apply apply) {
    overrides_.emplace_back(
        option, [value = std::move(value), apply = std::move(apply)](Options& options) { apply(options, *value); });
  }

  std::vector<std::pair<CLI::Option*, std::function<void(Options&)>>> overrides_;
};

}  // namespace shmkit::cli
