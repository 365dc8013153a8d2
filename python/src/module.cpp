/// @file
/// `shmkit._shmkit`: the native half of the `shmkit` Python package.

#include "bindings.hpp"

PYBIND11_MODULE(_shmkit, m) {
  m.doc() =
      "Native bindings of shmkit: shared arrays, the object store (Brain), the binary logger and its "
      "archives, the zero-copy channel. Import the `shmkit` package rather than this module.";
  shmkit::python::bind_errors(m);
  shmkit::python::bind_arrays(m);
  shmkit::python::bind_store(m);
  shmkit::python::bind_logger(m);
  shmkit::python::bind_channel(m);
}
