#pragma once
/// @file
/// Options for creating a shared array.

#include <sys/types.h>

#include <shmkit/core/segment.hpp>

#include <boost/describe/class.hpp>

#include <array>
#include <string_view>

namespace shmkit {

/// How `SharedArray<T>::create` behaves.
///
/// Described with Boost.Describe, so a program can load it from YAML with
/// `shmkit::from_yaml<ArrayOptions<float>>(path)` (`<shmkit/config/yaml_config.hpp>`):
///
///     exist_ok: false
///     mode: 0600
///     fill: 0.0
///     unlink_on_close: false
///
/// (`mode` in octal; a complex `T` cannot be loaded, YAML has no complex numbers).
template <class T>
struct ArrayOptions {
  /// If an array with this name exists, open it (its dtype and shape must
  /// match, and `fill` is not applied) instead of failing with ExistsError.
  bool exist_ok = false;
  /// Permission bits of the segment; 0600 (owner only) unless the caller asks,
  /// e.g. 0660 to share with a group.
  mode_t mode = kDefaultMode;
  /// Every element's initial value.
  T fill{};
  /// Unlink the name when the creating handle is destroyed (ataraxis 7
  /// behaviour). Other processes keep their mappings; new opens fail.
  bool unlink_on_close = false;

  /// Written and read in octal in a config file.
  static constexpr std::array kYamlOctal{std::string_view{"mode"}};
  BOOST_DESCRIBE_CLASS(ArrayOptions, (), (exist_ok, mode, fill, unlink_on_close), (), ())
};

}  // namespace shmkit
