#pragma once
/// @file
/// Options for creating a shared array.

#include <sys/types.h>

#include <shmkit/core/segment.hpp>

namespace shmkit {

/// How `SharedArray<T>::create` behaves.
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
};

}  // namespace shmkit
