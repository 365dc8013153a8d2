#pragma once
/// @file
/// What the binding files of the `shmkit._shmkit` extension share: each
/// module's registration function and the interruptible wait used by every
/// blocking call.

#include <Python.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

namespace shmkit::python {

namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_arrays(py::module_& m);
void bind_store(py::module_& m);
void bind_logger(py::module_& m);
void bind_channel(py::module_& m);

/// Incremented in a child after fork(); objects that must not cross a fork
/// (log writers, store connections) record it and refuse to work when it changed.
std::uint64_t fork_generation() noexcept;

/// Destroying, in a forked child, a handle its parent made would act on the
/// parent's share of shared memory (release the parent's store references,
/// close its log writer slot, drop its channel holds or its subscription).
/// The child leaves such an object alone instead: it is moved into a heap
/// cell that is never freed (the child's copy of the memory, nobody else's).
template <class T>
void leave_to_parent(T& object) {
  static_cast<void>(new T(std::move(object)));
}

/// Longest time a blocking call spends without the GIL before it checks for
/// signals, so Ctrl-C raises KeyboardInterrupt promptly.
inline constexpr std::chrono::milliseconds kWaitSlice{50};

/// Seconds from Python (None = forever) as a deadline-friendly duration.
inline std::optional<std::chrono::nanoseconds> to_timeout(std::optional<double> seconds) {
  if (!seconds) {
    return std::nullopt;
  }
  if (*seconds < 0) {
    throw py::value_error("timeout must be >= 0 seconds or None");
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(*seconds));
}

/// Calls `attempt(slice)` without the GIL until it returns a value, giving it
/// at most kWaitSlice each time and checking for signals in between; a
/// pending signal handler's exception (KeyboardInterrupt) propagates.
/// Returns nullopt once `timeout` has passed (never with no timeout).
template <class F>
auto wait_interruptibly(std::optional<std::chrono::nanoseconds> timeout, F&& attempt)
    -> decltype(attempt(std::chrono::nanoseconds{})) {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    std::chrono::nanoseconds slice = kWaitSlice;
    if (timeout) {
      const auto left = *timeout - (std::chrono::steady_clock::now() - start);
      slice = std::clamp<std::chrono::nanoseconds>(left, std::chrono::nanoseconds{0}, slice);
    }
    decltype(attempt(slice)) result;
    {
      const py::gil_scoped_release release;
      result = attempt(slice);
    }
    if (result) {
      return result;
    }
    if (PyErr_CheckSignals() != 0) {
      throw py::error_already_set();
    }
    if (timeout && std::chrono::steady_clock::now() - start >= *timeout) {
      return result;
    }
  }
}

}  // namespace shmkit::python
