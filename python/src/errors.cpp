/// @file
/// shmkit's C++ exceptions as Python exception classes under `shmkit.Error`.

#include <shmkit/core/error.hpp>

#include <exception>
#include <initializer_list>
#include <string>

#include "bindings.hpp"

namespace shmkit::python {
namespace {

// Owned by the module for the interpreter's lifetime (pybind11's own
// py::exception keeps its type the same way).
struct ExceptionTypes {
  PyObject* error = nullptr;
  PyObject* name = nullptr;
  PyObject* exists = nullptr;
  PyObject* not_found = nullptr;
  PyObject* layout = nullptr;
  PyObject* type = nullptr;
  PyObject* timeout = nullptr;
  PyObject* store_full = nullptr;
  PyObject* config = nullptr;
  PyObject* corrupt = nullptr;
  PyObject* index = nullptr;
};
ExceptionTypes types;

PyObject* new_exception(py::module_& m, const char* name, std::initializer_list<PyObject*> bases, const char* doc) {
  py::tuple base_tuple(bases.size());
  std::size_t i = 0;
  for (PyObject* base : bases) {
    base_tuple[i++] = py::reinterpret_borrow<py::object>(base);
  }
  const std::string qualified = std::string("shmkit.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base_tuple.ptr(), nullptr);
  if (type == nullptr) {
    throw py::error_already_set();
  }
  m.add_object(name, py::reinterpret_borrow<py::object>(type));
  return type;
}

}  // namespace

void bind_errors(py::module_& m) {
  types.error = new_exception(m, "Error", {PyExc_RuntimeError},
                              "Base of every shmkit exception; the message names the object involved and the fix.");
  types.name = new_exception(m, "InvalidNameError", {types.error, PyExc_ValueError},
                             "A name breaks the naming rules ([A-Za-z0-9._-], 1..200 characters, no leading dot).");
  types.exists = new_exception(m, "ObjectExistsError", {types.error},
                               "The object already exists and the caller did not ask to reuse it.");
  types.not_found =
      new_exception(m, "ObjectNotFoundError", {types.error, PyExc_KeyError}, "The object does not exist.");
  types.layout = new_exception(m, "LayoutError", {types.error},
                               "A segment's magic, layout version, dtype or shape is not what was expected.");
  types.type = new_exception(m, "ValueTypeError", {types.layout, PyExc_TypeError},
                             "A stored value is of another type than the one asked for.");
  types.timeout =
      new_exception(m, "WaitTimeoutError", {types.error, PyExc_TimeoutError}, "A bounded wait ran out of time.");
  types.store_full =
      new_exception(m, "StoreFullError", {types.error}, "The object store has no room and nothing can be evicted.");
  types.config = new_exception(m, "ConfigError", {types.error, PyExc_ValueError},
                               "A configuration file or value (YAML) is invalid; the message says where.");
  types.corrupt =
      new_exception(m, "CorruptDataError", {types.error}, "Stored data failed a check (CRC, framing, truncation).");
  types.index = new_exception(m, "IndexOutOfRangeError", {types.error, PyExc_IndexError},
                              "An index is outside the bounds of the object it addresses.");

  // Most-derived first: TypeError derives from LayoutError, all from Error.
  py::register_exception_translator([](std::exception_ptr pointer) {
    try {
      if (pointer) {
        std::rethrow_exception(pointer);
      }
    } catch (const shmkit::NameError& e) {
      PyErr_SetString(types.name, e.what());
    } catch (const shmkit::ExistsError& e) {
      PyErr_SetString(types.exists, e.what());
    } catch (const shmkit::NotFoundError& e) {
      PyErr_SetString(types.not_found, e.what());
    } catch (const shmkit::TypeError& e) {
      PyErr_SetString(types.type, e.what());
    } catch (const shmkit::LayoutError& e) {
      PyErr_SetString(types.layout, e.what());
    } catch (const shmkit::TimeoutError& e) {
      PyErr_SetString(types.timeout, e.what());
    } catch (const shmkit::StoreFullError& e) {
      PyErr_SetString(types.store_full, e.what());
    } catch (const shmkit::ConfigError& e) {
      PyErr_SetString(types.config, e.what());
    } catch (const shmkit::CorruptDataError& e) {
      PyErr_SetString(types.corrupt, e.what());
    } catch (const shmkit::IndexError& e) {
      PyErr_SetString(types.index, e.what());
    } catch (const shmkit::Error& e) {
      PyErr_SetString(types.error, e.what());
    }
  });
}

}  // namespace shmkit::python
