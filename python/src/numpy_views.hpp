#pragma once
/// @file
/// numpy dtypes to and from shmkit's, and zero-copy ndarrays over shared
/// memory whose base object keeps the memory's owner alive.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <shmkit/core/dtype.hpp>
#include <shmkit/core/error.hpp>

#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace shmkit::python {

namespace py = pybind11;

/// The shmkit Dtype of a numpy dtype (or anything numpy.dtype() accepts).
/// @throws py::type_error for dtypes shmkit does not hold (strings, objects, big-endian)
inline Dtype dtype_from_numpy(const py::object& spec) {
  const py::dtype dtype = py::dtype::from_args(spec);
  try {
    return parse_dtype(py::str(dtype.attr("str")).cast<std::string>());
  } catch (const shmkit::Error& e) {
    throw py::type_error(e.what());
  }
}

/// numpy's dtype for `dtype`, from its type number: building it from the
/// spelling ("<f8") parses the string on every call (~0.3 us of a get).
/// Native order is shmkit's little-endian (core/dtype.hpp asserts it).
inline py::dtype numpy_dtype(Dtype dtype) {
  return visit_dtype(dtype, [](auto type) { return py::dtype::of<typename decltype(type)::type>(); });
}

/// The Python object numpy's `.item()` gives for one element of `dtype`
/// at `data` (bool, int, float or complex), built directly: a 0-d array
/// and its `.item()` cost more than the rest of a get.
inline py::object scalar_object(Dtype dtype, const std::byte* data) {
  return visit_dtype(dtype, [data](auto type) -> py::object {
    using T = typename decltype(type)::type;
    if constexpr (std::is_same_v<T, bool>) {
      return py::bool_(std::to_integer<std::uint8_t>(*data) != 0);  // numpy's bool is any nonzero byte
    } else {
      T value;
      std::memcpy(&value, data, sizeof value);
      if constexpr (std::is_integral_v<T>) {
        return py::int_(value);
      } else if constexpr (std::is_floating_point_v<T>) {
        return py::float_(value);
      } else {
        return py::reinterpret_steal<py::object>(PyComplex_FromDoubles(value.real(), value.imag()));
      }
    }
  });
}

/// An ndarray over the C-order elements at `data`; its base holds a copy of
/// `owner`, so the memory stays mapped while numpy references it.
template <class Owner>
py::array view_of(const std::shared_ptr<Owner>& owner, Dtype dtype, std::span<const std::size_t> shape,
                  const std::byte* data, bool writeable) {
  auto* keep = new std::shared_ptr<Owner>(owner);
  const py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<Owner>*>(p); });
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  std::vector<py::ssize_t> strides(shape.size());
  auto stride = static_cast<py::ssize_t>(dtype_size(dtype));
  for (std::size_t axis = shape.size(); axis-- > 0;) {
    strides[axis] = stride;
    stride *= dims[axis];
  }
  py::array array(numpy_dtype(dtype), dims, strides, data, base);
  if (!writeable) {
    py::detail::array_proxy(array.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  }
  return array;
}

}  // namespace shmkit::python
