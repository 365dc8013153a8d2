/// @file
/// `shmkit.SharedArray`: a shared array of any dtype, seen from Python as a
/// zero-copy numpy ndarray, with its robust lock, atomics and snapshots.

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <shmkit/array/array_core.hpp>
#include <shmkit/core/dtype.hpp>
#include <shmkit/core/error.hpp>

#include <atomic>
#include <complex>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "bindings.hpp"
#include "numpy_views.hpp"

namespace shmkit::python {
namespace {

using Core = std::shared_ptr<detail::ArrayCore>;

template <class T>
constexpr bool kAtomicInteger = std::is_integral_v<T> && !std::is_same_v<T, bool>;

/// The held lock of one array; a context manager.
class PyArrayLock {
 public:
  explicit PyArrayLock(Core core) : core_(std::move(core)) {}
  PyArrayLock(const PyArrayLock&) = delete;
  PyArrayLock& operator=(const PyArrayLock&) = delete;
  ~PyArrayLock() { release(); }

  PyArrayLock& enter(std::optional<double> timeout) {
    if (held_) {
      throw shmkit::Error("array '" + core_->name() + "': this lock object is already held");
    }
    // Uncontended, the lock is one compare-and-swap: take it with the GIL
    // held, and pay for releasing the GIL only when it has to wait.
    auto state = core_->try_lock_for_write(std::chrono::nanoseconds{0});
    if (!state) {
      state = wait_interruptibly(to_timeout(timeout),
                                 [&](std::chrono::nanoseconds slice) { return core_->try_lock_for_write(slice); });
    }
    if (!state) {
      throw shmkit::TimeoutError("array '" + core_->name() + "': lock not acquired within the timeout");
    }
    held_ = true;
    recovered_ = *state == LockState::recovered;
    return *this;
  }
  void release() noexcept {
    if (held_) {
      held_ = false;
      core_->unlock_after_write();
    }
  }
  [[nodiscard]] bool recovered() const noexcept { return recovered_; }
  [[nodiscard]] bool held() const noexcept { return held_; }

 private:
  Core core_;
  bool held_ = false;
  bool recovered_ = false;
};

class PySharedArray {
 public:
  explicit PySharedArray(detail::ArrayCore core) : core_(std::make_shared<detail::ArrayCore>(std::move(core))) {}

  static PySharedArray create(const std::string& name, const std::vector<std::size_t>& shape, const py::object& dtype,
                              mode_t mode, bool exist_ok, bool unlink_on_close) {
    const Dtype type = dtype_from_numpy(dtype);
    const std::vector<std::byte> zero(dtype_size(type));
    return PySharedArray(detail::ArrayCore::create(name, type, shape, mode, exist_ok, unlink_on_close, zero));
  }
  static PySharedArray create_like(const std::string& name, const py::array& prototype, mode_t mode,
                                   bool unlink_on_close) {
    std::vector<std::size_t> shape(prototype.shape(), prototype.shape() + prototype.ndim());
    PySharedArray array = create(name, shape, prototype.dtype(), mode, false, unlink_on_close);
    array.array(true)[py::make_tuple()] = prototype;  // numpy copies (any layout)
    return array;
  }
  static PySharedArray open(const std::string& name) { return PySharedArray(detail::ArrayCore::open(name)); }
  static bool remove(const std::string& name) {
    try {
      return detail::ArrayCore::open(name).destroy();
    } catch (const shmkit::NotFoundError&) {
      return false;
    }
  }

  [[nodiscard]] detail::ArrayCore& core() const {
    if (!core_) {
      throw shmkit::Error("shared array is closed");
    }
    return *core_;
  }
  [[nodiscard]] const Core& shared() const {
    (void)core();
    return core_;
  }
  void close() { core_.reset(); }
  [[nodiscard]] bool closed() const noexcept { return !core_; }

  [[nodiscard]] py::array array(bool writeable) const {
    const auto& c = core();
    return view_of(shared(), c.dtype(), c.shape(), c.data(), writeable);
  }

  [[nodiscard]] py::array snapshot(std::optional<double> timeout) const {
    const auto& c = core();
    py::array out(numpy_dtype(c.dtype()), std::vector<py::ssize_t>(c.shape().begin(), c.shape().end()));
    auto* target = static_cast<std::byte*>(out.mutable_data());
    const Core keep = shared();
    const bool done = wait_interruptibly(to_timeout(timeout.value_or(1.0)), [&](std::chrono::nanoseconds slice) {
      try {
        keep->snapshot(target, std::max<std::chrono::nanoseconds>(slice, std::chrono::nanoseconds{1}));
        return true;
      } catch (const shmkit::TimeoutError&) {
        return false;
      }
    });
    if (!done) {
      throw shmkit::TimeoutError("array '" + c.name() + "': no consistent snapshot within the timeout");
    }
    return out;
  }

  [[nodiscard]] std::optional<py::array> try_snapshot_slice(std::size_t start, std::size_t stop, int attempts) const {
    const auto& c = core();
    if (c.shape().empty()) {
      throw shmkit::IndexError("array '" + c.name() + "' is 0-dimensional; use snapshot()");
    }
    if (stop < start || stop > c.shape()[0]) {
      throw shmkit::IndexError("array '" + c.name() + "': rows [" + std::to_string(start) + ", " +
                               std::to_string(stop) + ") outside axis 0 of length " + std::to_string(c.shape()[0]));
    }
    std::size_t row = 1;
    for (std::size_t axis = 1; axis < c.shape().size(); ++axis) {
      row *= c.shape()[axis];
    }
    std::vector<py::ssize_t> dims(c.shape().begin(), c.shape().end());
    dims[0] = static_cast<py::ssize_t>(stop - start);
    py::array out(numpy_dtype(c.dtype()), dims);
    const std::size_t item = dtype_size(c.dtype());
    bool ok = false;
    {
      const py::gil_scoped_release release;
      ok = c.try_snapshot(static_cast<std::byte*>(out.mutable_data()), start * row * item, (stop - start) * row * item,
                          attempts);
    }
    if (!ok) {
      return std::nullopt;
    }
    return out;
  }

  /// Calls `fn(std::atomic_ref<T>&)` on the element at `index`.
  template <class F>
  py::object with_atomic(const py::object& index, F&& fn) const {
    const auto& c = core();
    std::vector<std::size_t> dims;
    if (py::isinstance<py::int_>(index)) {
      dims.push_back(index.cast<std::size_t>());
    } else {
      dims = index.cast<std::vector<std::size_t>>();
    }
    const std::size_t flat = c.flat_index(Index(dims));
    return visit_dtype(c.dtype(), [&](auto type) -> py::object {
      using T = typename decltype(type)::type;
      if constexpr (kAtomicInteger<T>) {
        std::atomic_ref<T> element(reinterpret_cast<T*>(c.data())[flat]);  // NOLINT: the segment holds Ts
        return fn(element);
      } else {
        throw py::type_error("array '" + c.name() + "' has dtype " + std::string(dtype_name(c.dtype())) +
                             "; atomic operations need an integer dtype");
      }
    });
  }

  [[nodiscard]] std::string repr() const {
    if (!core_) {
      return "<shmkit.SharedArray (closed)>";
    }
    return "<shmkit.SharedArray '" + core_->name() + "' " + std::string(dtype_name(core_->dtype())) + " " +
           shape_string(core_->shape()) + ">";
  }

 private:
  Core core_;
};

/// `value` (an int or anything with __index__) as a T. @throws TypeError for
/// a non-integer, OverflowError when it does not fit T
template <class T>
T checked_value(const py::object& value) {
  const py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr()));
  if (!index) {
    throw py::error_already_set();
  }
  int overflow = 0;
  bool fits = false;
  T result{};
  if constexpr (std::is_signed_v<T>) {
    const long long wide = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    fits = overflow == 0 && wide >= std::numeric_limits<T>::min() && wide <= std::numeric_limits<T>::max();
    result = static_cast<T>(wide);
  } else {
    const bool negative = PyObject_RichCompareBool(index.ptr(), py::int_(0).ptr(), Py_LT) == 1;
    const unsigned long long wide = negative ? 0 : PyLong_AsUnsignedLongLong(index.ptr());
    if (PyErr_Occurred() != nullptr) {
      PyErr_Clear();
    } else {
      fits = !negative && wide <= std::numeric_limits<T>::max();
    }
    result = static_cast<T>(wide);
  }
  if (!fits) {
    PyErr_SetString(PyExc_OverflowError, ("value " + py::repr(value).cast<std::string>() +
                                          " does not fit the array's dtype " + std::string(dtype_name(dtype_of<T>)))
                                             .c_str());
    throw py::error_already_set();
  }
  return result;
}

}  // namespace

void bind_arrays(py::module_& m) {
  py::class_<PyArrayLock>(m, "ArrayLock",
                          "The held lock of a SharedArray, from `SharedArray.lock()`; use it with `with`.\n\n"
                          "The lock is robust: if the process holding it dies, the next locker gets it with "
                          "`recovered` True (the data may be half updated).")
      // __enter__ hands back its own Python object and __exit__ takes the
      // three arguments `with` passes: no lookup of the instance, no args
      // tuple (a locked write from Python is three calls; this saved ~15%).
      .def(
          "__enter__", [](py::object self) { return self; }, "Returns this object, for `with`.")
      .def(
          "__exit__", [](PyArrayLock& self, py::handle, py::handle, py::handle) { self.release(); },
          py::arg("exc_type"), py::arg("exc"), py::arg("traceback"), "Releases the lock.")
      .def("release", &PyArrayLock::release, "Releases the lock (if held).")
      .def_property_readonly("recovered", &PyArrayLock::recovered,
                             "True when the previous holder died holding the lock.")
      .def_property_readonly("held", &PyArrayLock::held, "True while this object holds the lock.");

  py::class_<PySharedArray>(
      m, "SharedArray",
      "A named N-d array in shared memory (/dev/shm/<name>), shared by any process, C++ or Python.\n\n"
      "`array` is a zero-copy numpy view; `lock()` is the array's robust process-shared lock; "
      "`snapshot()` copies the data consistently (seqlock) without taking the lock. The segment "
      "persists until `SharedArray.remove(name)` (or `shmkit array rm`).")
      .def_static("create", &PySharedArray::create, py::arg("name"), py::arg("shape"), py::arg("dtype"),
                  py::arg("mode") = 0600, py::arg("exist_ok") = false, py::arg("unlink_on_close") = false,
                  "Creates array `name` of `shape` and numpy `dtype`, zero-filled.\n\n"
                  "`mode` is the permission bits (0o600). With `exist_ok`, opens an existing array of the same "
                  "dtype and shape instead. With `unlink_on_close`, the name is removed when this handle closes.\n"
                  "Raises InvalidNameError, ObjectExistsError, LayoutError.")
      .def_static("create_like", &PySharedArray::create_like, py::arg("name"), py::arg("prototype"),
                  py::arg("mode") = 0600, py::arg("unlink_on_close") = false,
                  "Creates array `name` with the prototype ndarray's dtype and shape, holding a copy of its data.")
      .def_static("open", &PySharedArray::open, py::arg("name"),
                  "Opens an existing array by name. Raises ObjectNotFoundError, LayoutError.")
      .def_static("remove", &PySharedArray::remove, py::arg("name"),
                  "Unlinks array `name`; returns False if there was none. Open handles and views stay valid.")
      .def_property_readonly(
          "array", [](const PySharedArray& self) { return self.array(true); },
          "A writable zero-copy numpy view of the data; it keeps the mapping alive while referenced.")
      .def_property_readonly(
          "name", [](const PySharedArray& self) { return self.core().name(); }, "The array's name.")
      .def_property_readonly(
          "dtype", [](const PySharedArray& self) { return numpy_dtype(self.core().dtype()); }, "The numpy dtype.")
      .def_property_readonly(
          "shape",
          [](const PySharedArray& self) {
            const auto shape = self.core().shape();
            py::tuple out(shape.size());
            for (std::size_t i = 0; i < shape.size(); ++i) {
              out[i] = shape[i];
            }
            return out;
          },
          "The shape, a tuple.")
      .def_property_readonly(
          "nbytes", [](const PySharedArray& self) { return self.core().nbytes(); }, "Bytes of data.")
      .def_property_readonly("closed", &PySharedArray::closed, "True after close().")
      .def(
          "lock",
          [](const PySharedArray& self, std::optional<double> timeout) {
            auto lock = std::make_unique<PyArrayLock>(self.shared());
            lock->enter(timeout);
            return lock;
          },
          py::arg("timeout") = py::none(),
          "Blocks (without the GIL; Ctrl-C interrupts) until this process holds the array's lock and returns "
          "it as an ArrayLock for `with a.lock() as l:`. Raises WaitTimeoutError after `timeout` seconds.")
      .def("snapshot", &PySharedArray::snapshot, py::arg("timeout") = py::none(),
           "A consistent numpy copy of the whole array, taken between writers' lock sections (seqlock), "
           "retrying up to `timeout` seconds (default 1). Raises WaitTimeoutError.")
      .def("try_snapshot_slice", &PySharedArray::try_snapshot_slice, py::arg("start"), py::arg("stop"),
           py::arg("attempts") = 100,
           "A consistent copy of rows [start, stop) along axis 0, or None if `attempts` tries all met a writer.")
      .def(
          "atomic_load",
          [](const PySharedArray& self, const py::object& index) {
            return self.with_atomic(index, [](auto& e) { return py::cast(e.load()); });
          },
          py::arg("index"), "Atomically reads an integer element (index: int or tuple).")
      .def(
          "atomic_store",
          [](const PySharedArray& self, const py::object& index, const py::object& value) {
            self.with_atomic(index, [&](auto& e) {
              e.store(checked_value<typename std::remove_reference_t<decltype(e)>::value_type>(value));
              return py::object(py::none());
            });
          },
          py::arg("index"), py::arg("value"), "Atomically writes an integer element.")
      .def(
          "atomic_add",
          [](const PySharedArray& self, const py::object& index, const py::object& value) {
            return self.with_atomic(index, [&](auto& e) {
              return py::cast(
                  e.fetch_add(checked_value<typename std::remove_reference_t<decltype(e)>::value_type>(value)));
            });
          },
          py::arg("index"), py::arg("value"),
          "Atomically adds `value` to an integer element (wrapping) and returns the previous value.")
      .def(
          "compare_exchange",
          [](const PySharedArray& self, const py::object& index, const py::object& expected,
             const py::object& desired) {
            return self.with_atomic(index, [&](auto& e) {
              using T = typename std::remove_reference_t<decltype(e)>::value_type;
              T current = checked_value<T>(expected);
              const bool swapped = e.compare_exchange_strong(current, checked_value<T>(desired));
              return py::object(py::make_tuple(swapped, current));
            });
          },
          py::arg("index"), py::arg("expected"), py::arg("desired"),
          "Atomically replaces the element with `desired` if it equals `expected`; returns "
          "(swapped, value seen).")
      .def("close", &PySharedArray::close,
           "Drops this handle; views from `array` keep the mapping until they go. Further calls raise Error.")
      .def(
          "__enter__", [](PySharedArray& self) -> PySharedArray& { return self; }, py::return_value_policy::reference,
          "Returns this object, for `with`.")
      .def(
          "__exit__", [](PySharedArray& self, const py::args&) { self.close(); }, "Calls close().")
      .def("__repr__", &PySharedArray::repr);
}

}  // namespace shmkit::python
