/// @file
/// `shmkit._shmkit`: the native half of the `shmkit` Python package.

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "bindings.hpp"

namespace shmkit::python {
namespace {
std::atomic<std::uint64_t> generation{0};
}  // namespace
std::uint64_t fork_generation() noexcept {
  return generation.load(std::memory_order_relaxed);
}
}  // namespace shmkit::python

PYBIND11_MODULE(_shmkit, m) {
  m.doc() =
      "Native bindings of shmkit: shared arrays, the object store (Brain), the binary logger and its "
      "archives, the zero-copy channel. Import the `shmkit` package rather than this module.";
  pthread_atfork(nullptr, nullptr, [] { shmkit::python::generation.fetch_add(1, std::memory_order_relaxed); });
  shmkit::python::bind_errors(m);
  shmkit::python::bind_arrays(m);
  shmkit::python::bind_store(m);
  shmkit::python::bind_logger(m);
  shmkit::python::bind_channel(m);
}
