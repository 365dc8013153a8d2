/// @file
/// `shmkit.SharedArray`: a shared array of any dtype, seen from Python as a
/// zero-copy numpy ndarray, with its robust lock, atomics and snapshots.

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <shmkit/array/array_core.hpp>
#include <shmkit/core/dtype.hpp>
#include <shmkit/core/error.hpp>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <complex>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
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

// ---- shmkit.ArrayLock --------------------------------------------------------
//
// The held lock of one array, a context manager. A hand-written CPython type,
// not a py::class_: a locked write from Python is three calls (lock(),
// __enter__, __exit__) around one numpy store, and for each pybind11 finds
// the C++ type behind `self` by hashing its std::type_index and registers
// (then deregisters) every new instance in its instance map. As plain
// CPython methods __enter__ and __exit__ cost what multiprocessing.Lock's do:
// `with a.lock(): view[i] = v` went from 2.15 to 0.71 us p50 (that lock's
// `with`: 0.96 and 0.42 us in the same two runs). The rest of the gap is
// lock() itself, a pybind11 method of SharedArray.

struct ArrayLockObject {
  PyObject ob_base;  // what PyObject_HEAD declares
  Core core;         // constructed in place after tp_alloc, destroyed in dealloc
  bool held;
  bool recovered;
  // The lock belongs to the thread that took it, in the process that took
  // it: unlocking it anywhere else would close the seqlock write section
  // while the holder still writes (pthread then refuses the unlock itself).
  pthread_t holder;
  std::uint64_t generation;  // fork_generation() when it was taken
};

PyTypeObject* array_lock_type = nullptr;  // owns a reference: the type outlives any `del shmkit.ArrayLock`

ArrayLockObject* as_lock(PyObject* self) noexcept {
  return reinterpret_cast<ArrayLockObject*>(self);
}

bool taken_here(const ArrayLockObject* lock) noexcept {
  return lock->generation == fork_generation() && pthread_equal(lock->holder, pthread_self()) != 0;
}

void release_lock(ArrayLockObject* lock) noexcept {
  if (lock->held) {
    lock->held = false;
    lock->core->unlock_after_write();
  }
}

/// release() and __exit__: false (with a Python exception set) when this
/// thread may not release it.
bool release_here(ArrayLockObject* lock) {
  if (lock->held && !taken_here(lock)) {
    PyErr_Format(PyExc_RuntimeError,
                 "the lock of shared array '%s' was taken by another thread or before this process forked; "
                 "release it in the thread that took it",
                 lock->core->name().c_str());
    return false;
  }
  release_lock(lock);
  return true;
}

void array_lock_dealloc(PyObject* self) {
  ArrayLockObject* lock = as_lock(self);
  if (taken_here(lock)) {
    release_lock(lock);
  }
  // Dropped in another thread or a forked child, a held lock is left to
  // its holder: when that thread ends, the next locker gets it as recovered.
  lock->core.~Core();
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);  // instances of a heap type hold a reference to it
}

PyObject* array_lock_enter(PyObject* self, PyObject* /*unused*/) {
  Py_INCREF(self);
  return self;
}

PyObject* array_lock_exit(PyObject* self, PyObject* const* /*args*/, Py_ssize_t count) {
  if (count != 3) {
    PyErr_Format(PyExc_TypeError, "ArrayLock.__exit__ takes 3 arguments (exc_type, exc, traceback), %zd given", count);
    return nullptr;
  }
  if (!release_here(as_lock(self))) {
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyObject* array_lock_release(PyObject* self, PyObject* /*unused*/) {
  if (!release_here(as_lock(self))) {
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyObject* array_lock_held(PyObject* self, void* /*unused*/) {
  return PyBool_FromLong(as_lock(self)->held ? 1 : 0);
}

PyObject* array_lock_recovered(PyObject* self, void* /*unused*/) {
  return PyBool_FromLong(as_lock(self)->recovered ? 1 : 0);
}

template <class F>
PyCFunction as_cfunction(F* function) noexcept {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(function));
}

// The "name($self, ...)\n--\n\n" prefix gives each method the signature
// inspect.signature() and help() show.
PyMethodDef array_lock_methods[] = {
    {"__enter__", array_lock_enter, METH_NOARGS, "__enter__($self, /)\n--\n\nReturns this object, for `with`."},
    {"__exit__", as_cfunction(array_lock_exit), METH_FASTCALL,
     "__exit__($self, exc_type, exc, traceback, /)\n--\n\nReleases the lock."},
    {"release", array_lock_release, METH_NOARGS, "release($self, /)\n--\n\nReleases the lock (if held)."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef array_lock_properties[] = {
    {"recovered", array_lock_recovered, nullptr, "True when the previous holder died holding the lock.", nullptr},
    {"held", array_lock_held, nullptr, "True while this object holds the lock.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyType_Slot array_lock_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(array_lock_dealloc)},
    {Py_tp_methods, array_lock_methods},
    {Py_tp_getset, array_lock_properties},
    {Py_tp_doc, const_cast<char*>("The held lock of a SharedArray, from `SharedArray.lock()`; use it with `with`.\n\n"
                                  "The lock is robust: if the process holding it dies, the next locker gets it with "
                                  "`recovered` True (the data may be half updated). Only the thread that took it "
                                  "releases it; a forked child that inherits it leaves it to the parent.")},
    {0, nullptr},
};

/// Adds shmkit.ArrayLock to `m`.
void bind_array_lock(py::module_& m) {
  const std::string name = py::cast<std::string>(m.attr("__name__")) + ".ArrayLock";
  unsigned int flags = Py_TPFLAGS_DEFAULT;
#ifdef Py_TPFLAGS_DISALLOW_INSTANTIATION
  flags |= Py_TPFLAGS_DISALLOW_INSTANTIATION;  // made only by SharedArray.lock()
#endif
  PyType_Spec spec{name.c_str(), sizeof(ArrayLockObject), 0, flags, array_lock_slots};
  PyObject* type = PyType_FromSpec(&spec);
  if (type == nullptr) {
    throw py::error_already_set();
  }
  array_lock_type = reinterpret_cast<PyTypeObject*>(type);  // keeps the reference PyType_FromSpec gave
  m.add_object("ArrayLock", py::reinterpret_borrow<py::object>(type));
}

/// A new ArrayLock of `core`, not held yet.
py::object new_array_lock(Core core) {
  PyObject* object = array_lock_type->tp_alloc(array_lock_type, 0);
  if (object == nullptr) {
    throw py::error_already_set();
  }
  py::object owned = py::reinterpret_steal<py::object>(object);  // freed (unlocked) if taking it fails
  ArrayLockObject* lock = as_lock(object);
  new (&lock->core) Core(std::move(core));
  lock->held = false;
  lock->recovered = false;
  lock->holder = pthread_self();
  lock->generation = fork_generation();
  return owned;
}

void mark_held(ArrayLockObject* lock, LockState state) noexcept {
  lock->held = true;
  lock->recovered = state == LockState::recovered;
}

/// Takes the lock if it is free now. Uncontended, the lock is one
/// compare-and-swap: taken with the GIL held, which is released only to wait.
bool take_if_free(ArrayLockObject* lock) {
  const std::optional<LockState> state = lock->core->try_lock_for_write(std::chrono::nanoseconds{0});
  if (state) {
    mark_held(lock, *state);
  }
  return state.has_value();
}

/// Takes the lock of `core` and returns it as a new ArrayLock.
py::object take_array_lock(Core core, std::optional<double> seconds) {
  const auto timeout = to_timeout(seconds);  // a bad timeout is an error even when the lock is free
  py::object owned = new_array_lock(std::move(core));
  ArrayLockObject* lock = as_lock(owned.ptr());
  if (take_if_free(lock)) {
    return owned;
  }
  const auto state = wait_interruptibly(
      timeout, [&](std::chrono::nanoseconds slice) { return lock->core->try_lock_for_write(slice); });
  if (!state) {
    throw shmkit::TimeoutError("array '" + lock->core->name() + "': lock not acquired within the timeout");
  }
  mark_held(lock, *state);
  return owned;
}

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

// ---- SharedArray.lock() ------------------------------------------------------
//
// lock() is a CPython method over the pybind11 one, for the same reason as
// ArrayLock: pybind11's dispatch (finding the C++ object behind `self`,
// converting the optional timeout, copying the result through its casters)
// cost more than taking an uncontended lock. The CPython method handles the
// common case alone: an exact SharedArray, no timeout or a plain int or
// float one, and a lock free now. Everything else (a lock held by another,
// a closed array, a bad timeout, a subclass) goes to the pybind11 method,
// which waits, and raises the exception that case has always raised.

PyTypeObject* shared_array_type = nullptr;  // the pybind11 class, kept alive by the module
PyObject* pybind11_lock = nullptr;          // its lock(), an instancemethod; owned

/// The timeout argument of a lock() call the fast path can take: none,
/// None, or a non-negative plain int or float. False for anything else.
bool plain_timeout(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs > 1) {
    return false;
  }
  PyObject* timeout = nargs == 1 ? args[0] : nullptr;
  if (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) != 0) {
    if (nargs != 0 || PyTuple_GET_SIZE(kwnames) != 1 ||
        PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "timeout") != 0) {
      return false;
    }
    timeout = args[0];
  }
  if (timeout == nullptr || timeout == Py_None) {
    return true;
  }
  double seconds = -1;
  if (PyFloat_CheckExact(timeout)) {
    seconds = PyFloat_AS_DOUBLE(timeout);
  } else if (PyLong_CheckExact(timeout)) {
    seconds = PyLong_AsDouble(timeout);
    if (seconds == -1.0 && PyErr_Occurred() != nullptr) {
      PyErr_Clear();  // too large for a double: the pybind11 method says so
      return false;
    }
  }
  return seconds >= 0;  // false for NaN too
}

/// A held ArrayLock of `self` if it can be taken at once, else nullptr
/// (no Python error set).
PyObject* lock_now(PyObject* self) noexcept {
  try {
    auto* instance = reinterpret_cast<py::detail::instance*>(self);
    const PySharedArray* array = instance->get_value_and_holder().value_ptr<PySharedArray>();
    if (array == nullptr || array->closed()) {
      return nullptr;
    }
    py::object owned = new_array_lock(array->shared());
    if (take_if_free(as_lock(owned.ptr()))) {
      return owned.release().ptr();
    }
  } catch (const py::error_already_set&) {
    PyErr_Clear();
  } catch (...) {  // the pybind11 method meets it again and raises it as it should
  }
  return nullptr;
}

PyObject* shared_array_lock(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (Py_TYPE(self) == shared_array_type && plain_timeout(args, nargs, kwnames)) {
    if (PyObject* lock = lock_now(self)) {
      return lock;
    }
  }
  // self first, then the caller's arguments, as the pybind11 method takes them.
  std::vector<PyObject*> call;
  try {
    call.resize(static_cast<std::size_t>(nargs) + 1 +
                (kwnames == nullptr ? 0 : static_cast<std::size_t>(PyTuple_GET_SIZE(kwnames))));
  } catch (const std::bad_alloc&) {
    return PyErr_NoMemory();  // no C++ exception may cross into CPython's frames
  }
  call[0] = self;
  std::copy(args, args + (call.size() - 1), call.begin() + 1);
  return PyObject_Vectorcall(pybind11_lock, call.data(), static_cast<std::size_t>(nargs) + 1, kwnames);
}

constexpr const char* kLockDoc =
    "Blocks (without the GIL; Ctrl-C interrupts) until this process holds the array's lock and returns "
    "it as an ArrayLock for `with a.lock() as l:`. Raises WaitTimeoutError after `timeout` seconds.";

/// Puts the CPython lock() in place of the pybind11 one on `cls`.
void install_fast_lock(const py::object& cls) {
  static const std::string doc = std::string("lock($self, /, timeout=None)\n--\n\n") + kLockDoc;
  static PyMethodDef method{"lock", as_cfunction(shared_array_lock), METH_FASTCALL | METH_KEYWORDS, doc.c_str()};
  shared_array_type = reinterpret_cast<PyTypeObject*>(cls.ptr());
  pybind11_lock = py::object(cls.attr("__dict__")["lock"]).release().ptr();
  const py::object descriptor = py::reinterpret_steal<py::object>(PyDescr_NewMethod(shared_array_type, &method));
  if (!descriptor) {
    throw py::error_already_set();
  }
  cls.attr("lock") = descriptor;
}

void bind_arrays(py::module_& m) {
  bind_array_lock(m);

  py::class_<PySharedArray> shared_array(
      m, "SharedArray",
      "A named N-d array in shared memory (/dev/shm/<name>), shared by any process, C++ or Python.\n\n"
      "`array` is a zero-copy numpy view; `lock()` is the array's robust process-shared lock; "
      "`snapshot()` copies the data consistently (seqlock) without taking the lock. The segment "
      "persists until `SharedArray.remove(name)` (or `shmkit array rm`).");
  shared_array
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
            return take_array_lock(self.shared(), timeout);
          },
          py::arg("timeout") = py::none(), kLockDoc)
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
  install_fast_lock(shared_array);
}

}  // namespace shmkit::python
