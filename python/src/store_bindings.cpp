/// @file
#include "bindings.hpp"

namespace shmkit::python {
void bind_store(py::module_& /*m*/) {}
}  // namespace shmkit::python
