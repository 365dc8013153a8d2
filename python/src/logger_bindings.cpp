/// @file
#include "bindings.hpp"

namespace shmkit::python {
void bind_logger(py::module_& /*m*/) {}
}  // namespace shmkit::python
