/// @file
/// `shmkit.StoreServer` and `shmkit.Brain`: the object store with
/// brain-plasma's dict API. Values keep the layout of store/value.hpp, so C++
/// Brains and `shmkit store get/set` read and write the same values.

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <shmkit/core/dtype.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/store/brain.hpp>
#include <shmkit/store/store_server.hpp>
#include <shmkit/store/value.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <complex>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "numpy_views.hpp"

namespace shmkit::python {
namespace {

/// Type name Python code uses for a dict stored as YAML text.
constexpr const char* kDictTypeName = "dict";

class PyStoreServer {
 public:
  PyStoreServer(std::size_t capacity, const std::string& socket, mode_t socket_mode) {
    StoreOptions options;
    options.capacity = capacity;
    options.socket_path = socket;
    options.socket_mode = socket_mode;
    const py::gil_scoped_release release;
    server_.emplace(StoreServer::start(std::move(options)));
  }
  void stop() {
    if (server_) {
      const py::gil_scoped_release release;
      server_.reset();
    }
  }
  [[nodiscard]] const StoreServer& server() const {
    if (!server_) {
      throw shmkit::Error("store server is stopped");
    }
    return *server_;
  }
  [[nodiscard]] bool running() const noexcept { return server_.has_value(); }

 private:
  std::optional<StoreServer> server_;
};

/// A read reference to a stored object plus the connection it came through;
/// the base object of the ndarrays `Brain` returns.
struct HeldObject {
  std::shared_ptr<Brain> brain;
  ObjectBuffer buffer;
  std::uint64_t generation = fork_generation();
  ~HeldObject() {
    if (generation != fork_generation()) {
      leave_to_parent(buffer);  // the reference is the parent's
    }
    buffer.release();  // before the connection can go
  }
};

std::vector<std::byte> as_byte_vector(std::string_view text) {
  const auto* first = reinterpret_cast<const std::byte*>(text.data());
  return {first, first + text.size()};
}

class PyBrain {
 public:
  PyBrain(const std::string& socket, const std::string& ns, double connect_timeout) {
    const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(connect_timeout * 1000));
    const py::gil_scoped_release release;
    brain_ = std::make_shared<Brain>(Brain::connect(socket, ns, timeout));
    std::random_device device;
    rng_.seed((static_cast<std::uint64_t>(device()) << 32U) ^ device() ^ static_cast<std::uint64_t>(::getpid()));
  }

  [[nodiscard]] Brain& brain() const {
    if (!brain_) {
      throw shmkit::Error("Brain is closed");
    }
    if (generation_ != fork_generation()) {
      throw shmkit::Error("Brain was connected before this process forked; connect a new one in the child");
    }
    return *brain_;
  }
  void close() { brain_.reset(); }

  void set(const std::string& name, const py::handle& value, const std::string& description,
           const std::string& type_name = "") {
    if (!type_name.empty() && !py::isinstance<py::dict>(value)) {
      throw py::type_error("Brain.set: type_name names the C++ struct a dict is read as; '" + name +
                           "' is not set to a dict");
    }
    ValueInfo info;
    info.description = description;
    info.creator_pid = ::getpid();
    info.created_unix_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    std::vector<std::byte> owned;
    std::span<const std::byte> data;
    py::object keep;  // keeps a contiguous copy of an array alive
    const py::module_ numpy = py::module_::import("numpy");

    if (py::isinstance<py::bytes>(value) || py::isinstance<py::bytearray>(value) ||
        py::isinstance<py::memoryview>(value)) {
      keep = py::bytes(py::reinterpret_borrow<py::object>(value));
      const std::string_view bytes = keep.cast<std::string_view>();
      data = {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()};
      info.type = ValueType::bytes;
    } else if (py::isinstance<py::str>(value)) {
      owned = as_byte_vector(value.cast<std::string>());
      data = owned;
      info.type = ValueType::string;
    } else if (py::isinstance<py::dict>(value)) {
      const std::string yaml =
          py::module_::import("yaml").attr("safe_dump")(value, py::arg("sort_keys") = false).cast<std::string>();
      owned = as_byte_vector(yaml);
      data = owned;
      info.type = ValueType::config;
      // A C++ reader's Brain::get<T> checks the struct's name; a dict set
      // for one carries it, other dicts say "dict".
      info.type_name = type_name.empty() ? kDictTypeName : type_name;
    } else if (py::isinstance<py::array>(value) || py::isinstance(value, numpy.attr("generic")) ||
               py::isinstance<py::bool_>(value) || py::isinstance<py::int_>(value) ||
               py::isinstance<py::float_>(value) || PyComplex_Check(value.ptr()) != 0) {
      const bool is_array = py::isinstance<py::array>(value);
      py::array array;
      if (py::isinstance<py::bool_>(value)) {
        array = numpy.attr("asarray")(value, "?");
      } else if (py::isinstance<py::int_>(value) && !py::isinstance(value, numpy.attr("generic"))) {
        array = numpy.attr("asarray")(value, "<i8");  // OverflowError beyond int64, as `shmkit store set`
      } else {
        array = numpy.attr("ascontiguousarray")(value);
      }
      const Dtype dtype = dtype_from_numpy(array.dtype());
      info.type = is_array ? ValueType::array : ValueType::scalar;
      info.dtype = dtype;
      if (is_array) {
        info.shape.assign(array.shape(), array.shape() + array.ndim());
      }
      data = {static_cast<const std::byte*>(array.data()), static_cast<std::size_t>(array.nbytes())};
      keep = array;
    } else {
      throw py::type_error(
          "Brain stores bytes, str, int, float, bool, complex, numpy arrays and scalars, and dicts "
          "(as YAML); got " +
          py::str(py::type::of(value).attr("__name__")).cast<std::string>());
    }
    const std::vector<std::byte> metadata = detail::encode_value_metadata(info);
    ObjectId id;
    for (auto& byte : id.bytes) {
      byte = static_cast<std::uint8_t>(rng_());
    }
    Brain& b = brain();
    const py::gil_scoped_release release;
    b.client().put_named(b.current_namespace(), name, id, data, metadata);
  }

  py::object get(const std::string& name, std::optional<double> timeout, const py::object& type) {
    auto held = std::make_shared<HeldObject>();
    held->brain = brain_;
    Brain& b = brain();
    if (!timeout || *timeout == 0) {
      held->buffer = b.get_buffer(name, std::chrono::milliseconds(0));
    } else {
      const auto limit = std::isinf(*timeout) ? std::nullopt : to_timeout(*timeout);
      auto found = wait_interruptibly(limit, [&](std::chrono::nanoseconds slice) -> std::optional<ObjectBuffer> {
        try {
          return b.get_buffer(name, std::max(std::chrono::milliseconds(1),
                                             std::chrono::duration_cast<std::chrono::milliseconds>(slice)));
        } catch (const shmkit::TimeoutError&) {
          return std::nullopt;
        }
      });
      if (!found) {
        throw shmkit::TimeoutError("Brain '" + b.current_namespace() + "': '" + name + "' was not set within " +
                                   std::to_string(*timeout) + " s");
      }
      held->buffer = std::move(*found);
    }
    const ValueInfo info = detail::decode_value_metadata(held->buffer.metadata(), held->buffer.data().size());
    py::object result = decode(held, info);
    if (!type.is_none() && !py::isinstance(result, type)) {
      throw shmkit::TypeError("'" + b.current_namespace() + "/" + name + "' holds a " + info.type_text() + ", not a " +
                              py::str(type.attr("__name__")).cast<std::string>());
    }
    return result;
  }

  py::dict metadata(const std::string& name) {
    const ValueInfo info = brain().metadata(name);
    py::dict out;
    out["type"] = type_word(info.type);
    out["type_text"] = info.type_text();
    out["dtype"] = info.dtype ? py::object(py::str(std::string(dtype_name(*info.dtype)))) : py::object(py::none());
    out["shape"] = py::tuple(py::cast(info.shape));
    out["type_name"] = info.type_name;
    out["description"] = info.description;
    out["creator_pid"] = info.creator_pid;
    out["created_unix_ns"] = info.created_unix_ns;
    out["size"] = info.size;
    out["id"] = info.id.hex();
    return out;
  }

  [[nodiscard]] std::shared_ptr<Brain> shared() const { return brain_; }

 private:
  static const char* type_word(ValueType type) {
    switch (type) {
      case ValueType::string:
        return "string";
      case ValueType::scalar:
        return "scalar";
      case ValueType::array:
        return "array";
      case ValueType::config:
        return "config";
      case ValueType::bytes:
        break;
    }
    return "bytes";
  }

  static py::object decode(const std::shared_ptr<HeldObject>& held, const ValueInfo& info) {
    const std::span<const std::byte> data = held->buffer.data();
    const auto* chars = reinterpret_cast<const char*>(data.data());
    switch (info.type) {
      case ValueType::string:
        return py::str(chars, data.size());
      case ValueType::config: {
        const py::str text(chars, data.size());
        if (info.type_name == kDictTypeName) {
          return py::module_::import("yaml").attr("safe_load")(text);
        }
        return text;  // a C++ config struct: its YAML text
      }
      case ValueType::scalar:
        return scalar_object(*info.dtype, data.data());
      case ValueType::array: {
        return view_of(held, *info.dtype, info.shape, data.data(), false);
      }
      case ValueType::bytes:
        break;
    }
    return py::bytes(chars, data.size());
  }

  std::shared_ptr<Brain> brain_;
  std::mt19937_64 rng_;
  std::uint64_t generation_ = fork_generation();
};

}  // namespace

void bind_store(py::module_& m) {
  py::class_<PyStoreServer>(m, "StoreServer",
                            "An object store server on a thread of this process (the same server `shmkit store` "
                            "runs). Processes connect with Brain(socket). Use it as a context manager, or call "
                            "stop(); stopping removes the socket and frees the memory.")
      .def(py::init<std::size_t, const std::string&, mode_t>(), py::arg("capacity"), py::arg("socket"),
           py::arg("socket_mode") = 0600,
           "Starts serving `capacity` bytes on Unix socket path `socket`.\n"
           "Raises ObjectExistsError when a server already listens there, Error when the memory or socket is "
           "refused.")
      .def("stop", &PyStoreServer::stop, "Stops the server (idempotent); connected Brains' requests then fail.")
      .def_property_readonly("running", &PyStoreServer::running, "True until stop().")
      .def_property_readonly(
          "socket", [](const PyStoreServer& self) { return self.server().socket_path(); }, "The socket path.")
      .def_property_readonly(
          "capacity", [](const PyStoreServer& self) { return self.server().stats().capacity; }, "Bytes of arena.")
      .def_property_readonly(
          "used", [](const PyStoreServer& self) { return self.server().stats().used; }, "Bytes in use.")
      .def(
          "__enter__", [](PyStoreServer& self) -> PyStoreServer& { return self; }, py::return_value_policy::reference,
          "Returns this object, for `with`.")
      .def(
          "__exit__", [](PyStoreServer& self, const py::args&) { self.stop(); }, "Calls stop().");

  py::class_<PyBrain>(
      m, "Brain",
      "Named values in one namespace of a store, with a dict API (brain-plasma's):\n\n"
      "    brain = shmkit.Brain('/tmp/rig.sock', 'exp1')\n"
      "    brain['rate'] = 30.0; brain['roi'] = np.zeros((4, 4), 'u2'); brain['cfg'] = {'gain': 2}\n"
      "    brain['rate'], 'roi' in brain, del brain['cfg'], brain.names()\n\n"
      "Values: bytes (bytearray, memoryview), str, int (int64), float (float64), bool, complex, numpy "
      "scalars and arrays (any shmkit dtype), dicts (stored as YAML text). Arrays read back as read-only "
      "zero-copy views of shared memory; the view keeps the object alive while it is referenced, even after "
      "the name is rebound. Setting a name replaces its value atomically. C++ Brains and `shmkit store "
      "get/set` see the same values.")
      .def(py::init<const std::string&, const std::string&, double>(), py::arg("socket"),
           py::arg("namespace") = "default", py::arg("connect_timeout") = 5.0,
           "Connects to the store at `socket`, working in `namespace`. Raises WaitTimeoutError when no server "
           "answers within connect_timeout seconds, InvalidNameError for a bad namespace.")
      .def("set", &PyBrain::set, py::arg("name"), py::arg("value"), py::arg("description") = "",
           py::arg("type_name") = "",
           "Stores `value` under `name` (see the class doc for types; others raise TypeError); `description` "
           "is kept in its metadata. For a dict that a C++ program reads as a described struct "
           "(Brain::get<T>), `type_name` is that struct's full name, e.g. 'rig::Camera'.")
      .def(
          "__setitem__",
          [](PyBrain& self, const std::string& name, const py::handle& value) { self.set(name, value, ""); },
          py::arg("name"), py::arg("value"), "brain[name] = value: set(name, value).")
      .def("get", &PyBrain::get, py::arg("name"), py::arg("timeout") = py::none(), py::arg("type") = py::none(),
           "The value of `name`. With `timeout` (seconds; math.inf waits forever) waits for some process to set "
           "it, without the GIL, Ctrl-C interrupting; raises ObjectNotFoundError (a KeyError) when it is not "
           "set and WaitTimeoutError when it was not set in time. With `type` (e.g. float, numpy.ndarray) "
           "raises ValueTypeError (a TypeError) when the value is of another type.")
      .def(
          "__getitem__",
          [](PyBrain& self, const std::string& name) { return self.get(name, std::nullopt, py::none()); },
          py::arg("name"), "brain[name]: get(name); raises ObjectNotFoundError (a KeyError) when it is not set.")
      .def(
          "__delitem__",
          [](PyBrain& self, const std::string& name) {
            if (!self.brain().erase(name)) {
              throw shmkit::NotFoundError("'" + self.brain().current_namespace() + "/" + name + "' is not set");
            }
          },
          py::arg("name"), "del brain[name]; raises ObjectNotFoundError when it is not set.")
      .def(
          "delete", [](PyBrain& self, const std::string& name) { return self.brain().erase(name); }, py::arg("name"),
          "Removes `name`; returns False if it was not set.")
      .def(
          "__contains__", [](PyBrain& self, const std::string& name) { return self.brain().contains(name); },
          py::arg("name"), "name in brain: True when `name` is set in this namespace.")
      .def(
          "__len__", [](PyBrain& self) { return self.brain().size(); }, "Number of names in the namespace.")
      .def(
          "__iter__", [](PyBrain& self) { return py::iter(py::cast(self.brain().names())); },
          "Iterates over the names.")
      .def(
          "names", [](PyBrain& self, const std::string& prefix) { return self.brain().names(prefix); },
          py::arg("prefix") = "", "Names in this namespace starting with `prefix`, sorted.")
      .def("metadata", &PyBrain::metadata, py::arg("name"),
           "A dict: type, type_text, dtype, shape, type_name, description, creator_pid, created_unix_ns, size, "
           "id. Raises ObjectNotFoundError.")
      .def(
          "set_namespace", [](PyBrain& self, const std::string& ns) { self.brain().set_namespace(ns); },
          py::arg("namespace"), "Switches to namespace `namespace`. Raises InvalidNameError.")
      .def_property_readonly(
          "namespace", [](PyBrain& self) { return self.brain().current_namespace(); }, "The current namespace.")
      .def(
          "namespaces",
          [](PyBrain& self) {
            std::vector<std::string> out;
            for (const auto& info : self.brain().client().namespaces()) {
              out.push_back(info.name);
            }
            return out;
          },
          "Namespaces that hold at least one name.")
      .def(
          "clear", [](PyBrain& self) { return self.brain().clear(); }, "Removes every name of this namespace.")
      .def_property_readonly(
          "capacity", [](PyBrain& self) { return self.brain().capacity(); }, "Bytes of the store's arena.")
      .def_property_readonly(
          "used", [](PyBrain& self) { return self.brain().used(); }, "Bytes in use.")
      .def("close", &PyBrain::close,
           "Drops the connection; arrays read from it stay valid while referenced. Further calls raise Error.")
      .def(
          "__enter__", [](PyBrain& self) -> PyBrain& { return self; }, py::return_value_policy::reference,
          "Returns this object, for `with`.")
      .def(
          "__exit__", [](PyBrain& self, const py::args&) { self.close(); }, "Calls close().");
}

}  // namespace shmkit::python
