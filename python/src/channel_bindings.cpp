// Python bindings of the channel: create/open a channel, publish numpy
// arrays (or fill a loaned slot in place), and receive samples as read-only
// numpy arrays over the shared slot.
//
// Lifetimes are what keeps this safe from Python: an array handed out for a
// sample (or a loan) has the Python Sample (Loan) object as its base; that
// object holds the subscriber (publisher) it came from, which holds the
// channel's mapping. So the memory under an array stays mapped, and the
// sample stays held (its slot is not reused), for as long as any array
// over it lives, whatever the user closes in between.
//
// A channel handle belongs to one thread at a time (channel.hpp). The GIL
// is released while a call waits, so two Python threads could otherwise
// enter the same subscriber; a busy flag turns that into an error instead.

#include <shmkit/channel/channel.hpp>
#include <shmkit/core/dtype.hpp>
#include <shmkit/core/error.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"

namespace shmkit::python {

namespace {

using std::chrono::nanoseconds;

py::dtype numpy_dtype(Dtype dtype) {
  return py::dtype(std::string(dtype_string(dtype)));
}

// A handle made before a fork must not be used by the child: it would act
// as the parent's participant.
void check_process(pid_t owner, const std::string& what) {
  if (::getpid() != owner) {
    throw Error(what + " was made by process " + std::to_string(owner) +
                "; a forked child must open the channel itself");
  }
}

// Marks a handle busy for the length of a call.
class BusyGuard {
 public:
  BusyGuard(bool& busy, const std::string& what) : busy_(busy) {
    if (busy_) {
      throw Error(what + " is in use by another thread (a channel handle belongs to one thread at a time)");
    }
    busy_ = true;
  }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;
  ~BusyGuard() { busy_ = false; }

 private:
  bool& busy_;
};

// --- subscriber ------------------------------------------------------------

struct SubscriberCore {
  explicit SubscriberCore(DynamicSubscriber s) : subscriber(std::move(s)) {}
  SubscriberCore(const SubscriberCore&) = delete;
  SubscriberCore& operator=(const SubscriberCore&) = delete;
  ~SubscriberCore() {
    if (::getpid() != pid) {
      leave_to_parent(subscriber);  // the subscription is the parent's
    }
  }
  DynamicSubscriber subscriber;
  pid_t pid = ::getpid();
  bool busy = false;
};

struct PySample {
  std::shared_ptr<SubscriberCore> owner;  // declared first: destroyed after the sample it holds
  std::optional<Sample> sample;
  Dtype dtype = Dtype::u1;
  bool typed = false;  // array kinds: the channel's dtype; value kinds: bytes
  PySample() = default;
  PySample(PySample&&) noexcept = default;
  PySample& operator=(PySample&&) noexcept = default;
  ~PySample() {
    if (sample && owner && ::getpid() != owner->pid) {
      leave_to_parent(*sample);  // the hold is the parent's
    }
  }
};

class PySubscriber {
 public:
  explicit PySubscriber(std::shared_ptr<SubscriberCore> core, std::string channel_name)
      : core_(std::move(core)), name_(std::move(channel_name)) {}

  // The newest sample in publish order, waiting up to `timeout` seconds
  // (None: forever; 0: not at all); None when there is none.
  std::optional<PySample> receive(std::optional<double> timeout) {
    SubscriberCore& core = use();
    const BusyGuard busy(core.busy, describe());
    if (!wait_for_sample(core, timeout)) {
      return std::nullopt;
    }
    return wrap(core.subscriber.receive());
  }

  std::optional<PySample> latest() {
    SubscriberCore& core = use();
    const BusyGuard busy(core.busy, describe());
    return wrap(core.subscriber.latest());
  }

  bool wait(std::optional<double> timeout) {
    SubscriberCore& core = use();
    const BusyGuard busy(core.busy, describe());
    return wait_for_sample(core, timeout);
  }

  void close() { core_.reset(); }
  [[nodiscard]] bool closed() const noexcept { return core_ == nullptr; }

  std::uint64_t missed() { return use().subscriber.missed(); }
  std::uint64_t received() { return use().subscriber.received(); }
  std::uint64_t skipped() { return use().subscriber.skipped(); }
  std::uint64_t pending() { return use().subscriber.pending(); }

 private:
  [[nodiscard]] std::string describe() const { return "subscriber of channel '" + name_ + "'"; }

  SubscriberCore& use() {
    if (!core_) {
      throw Error(describe() + " is closed; subscribe again");
    }
    check_process(core_->pid, describe());
    return *core_;
  }

  // Waits with the GIL released; Ctrl-C interrupts it (wait_interruptibly).
  static bool wait_for_sample(SubscriberCore& core, std::optional<double> timeout) {
    if (core.subscriber.pending() > 0) {
      return true;
    }
    if (timeout && *timeout == 0) {
      return false;
    }
    return wait_interruptibly(to_timeout(timeout), [&core](nanoseconds slice) { return core.subscriber.wait(slice); });
  }

  std::optional<PySample> wrap(std::optional<Sample> sample) const {
    if (!sample) {
      return std::nullopt;
    }
    PySample out;
    out.owner = core_;
    out.sample = std::move(sample);
    const SampleSpec& spec = core_->subscriber.channel().sample();
    out.typed = spec.kind != ChannelSampleKind::value;
    out.dtype = spec.dtype;
    return out;
  }

  std::shared_ptr<SubscriberCore> core_;
  std::string name_;
};

// A read-only array over the sample's bytes; `self` (the Python Sample) is
// its base, so the sample stays held while the array lives.
py::array sample_array(const py::object& self) {
  const PySample& s = self.cast<const PySample&>();
  const Sample& sample = *s.sample;
  py::array out;
  if (s.typed) {
    const std::vector<py::ssize_t> shape(sample.shape().begin(), sample.shape().end());
    out = py::array(numpy_dtype(s.dtype), shape, {}, sample.bytes().data(), self);
  } else {
    out =
        py::array(py::dtype("|u1"), {static_cast<py::ssize_t>(sample.bytes().size())}, {}, sample.bytes().data(), self);
  }
  out.attr("flags").attr("writeable") = false;
  return out;
}

// --- publisher -------------------------------------------------------------

struct PublisherCore {
  explicit PublisherCore(DynamicPublisher p) : publisher(std::move(p)) {}
  PublisherCore(const PublisherCore&) = delete;
  PublisherCore& operator=(const PublisherCore&) = delete;
  ~PublisherCore() {
    if (::getpid() != pid) {
      leave_to_parent(publisher);  // the channel's publisher is the parent
    }
  }
  DynamicPublisher publisher;
  pid_t pid = ::getpid();
  bool busy = false;
};

struct PyLoan {
  std::shared_ptr<PublisherCore> owner;  // keeps the mapping under `.array` alive after publish
  std::optional<Loan> loan;
  std::byte* data = nullptr;
  std::size_t bytes = 0;
  std::vector<std::size_t> shape;
  PyLoan() = default;
  PyLoan(PyLoan&&) noexcept = default;
  PyLoan& operator=(PyLoan&&) noexcept = default;
  ~PyLoan() {
    if (loan && owner && ::getpid() != owner->pid) {
      leave_to_parent(*loan);  // the slot is the parent's loan
    }
  }
};

class PyPublisher {
 public:
  PyPublisher(std::shared_ptr<PublisherCore> core, std::string channel_name)
      : core_(std::move(core)), name_(std::move(channel_name)) {}

  // A free slot to fill in place, waiting up to `timeout` seconds for one
  // (0: not at all); None when none came free.
  std::optional<PyLoan> loan(double timeout) {
    PublisherCore& core = use();
    const BusyGuard busy(core.busy, describe());
    if (!(timeout >= 0)) {
      throw py::value_error("timeout must be >= 0 seconds");
    }
    std::optional<Loan> loan;
    {
      const py::gil_scoped_release unlocked;
      loan = core.publisher.loan(std::chrono::duration_cast<nanoseconds>(std::chrono::duration<double>(timeout)));
    }
    if (!loan) {
      return std::nullopt;
    }
    PyLoan out;
    out.owner = core_;
    out.data = loan->bytes().data();
    out.bytes = loan->bytes().size();
    out.shape.assign(loan->shape().begin(), loan->shape().end());
    out.loan = std::move(loan);
    return out;
  }

  std::uint64_t publish(PyLoan& loan) {
    PublisherCore& core = use();
    if (!loan.loan) {
      throw Error("this loan of channel '" + name_ + "' was published already; loan another slot");
    }
    if (loan.owner != core_) {
      throw Error("this loan belongs to another publisher than the one of channel '" + name_ + "'");
    }
    Loan taken = std::move(*loan.loan);
    loan.loan.reset();
    return core.publisher.publish(std::move(taken));
  }

  // Copies `array` (the channel's dtype and shape, C-contiguous; any
  // contiguous buffer of the sample's size for byte channels) into a slot
  // and publishes it; None if no slot came free within `timeout` seconds.
  std::optional<std::uint64_t> send(const py::buffer& data, double timeout) {
    PublisherCore& core = use();
    const BusyGuard busy(core.busy, describe());
    if (!(timeout >= 0)) {
      throw py::value_error("timeout must be >= 0 seconds");
    }
    const py::buffer_info info = data.request();
    check_contiguous(info);
    const SampleSpec& spec = core.publisher.channel().sample();
    if (spec.kind != ChannelSampleKind::value) {
      const py::dtype given(info);
      if (given.attr("str").cast<std::string>() != dtype_string(spec.dtype)) {
        throw py::type_error("cannot send " + given.attr("name").cast<std::string>() + " data on channel '" + name_ +
                             "': its samples are " + std::string(dtype_name(spec.dtype)));
      }
      if (spec.kind == ChannelSampleKind::array &&
          !std::equal(info.shape.begin(), info.shape.end(), spec.shape.begin(), spec.shape.end(),
                      [](py::ssize_t a, std::size_t b) { return static_cast<std::size_t>(a) == b; })) {
        std::vector<std::size_t> given_shape(info.shape.begin(), info.shape.end());
        throw LayoutError("cannot send an array of shape " + shape_string(given_shape) + " on channel '" + name_ +
                          "': its samples have shape " + shape_string(spec.shape));
      }
    }
    const std::span<const std::byte> bytes(static_cast<const std::byte*>(info.ptr),
                                           static_cast<std::size_t>(info.size * info.itemsize));
    const py::gil_scoped_release unlocked;
    return core.publisher.send(bytes, std::chrono::duration_cast<nanoseconds>(std::chrono::duration<double>(timeout)));
  }

  void close() { core_.reset(); }
  [[nodiscard]] bool closed() const noexcept { return core_ == nullptr; }
  std::uint64_t published() { return use().publisher.published(); }

 private:
  [[nodiscard]] std::string describe() const { return "publisher of channel '" + name_ + "'"; }

  PublisherCore& use() {
    if (!core_) {
      throw Error(describe() + " is closed; claim the publisher again");
    }
    check_process(core_->pid, describe());
    return *core_;
  }

  void check_contiguous(const py::buffer_info& info) const {
    py::ssize_t expected = info.itemsize;
    for (std::size_t d = info.shape.size(); d-- > 0;) {
      if (info.shape[d] != 1 && info.strides[d] != expected) {
        throw py::value_error("cannot send a non-contiguous array on channel '" + name_ +
                              "': pass numpy.ascontiguousarray(data)");
      }
      expected *= info.shape[d];
    }
  }

  std::shared_ptr<PublisherCore> core_;
  std::string name_;
};

// A writable array over the loaned slot; `self` (the Python Loan) is its base.
py::array loan_array(const py::object& self) {
  PyLoan& loan = self.cast<PyLoan&>();
  if (!loan.loan) {
    throw Error("this loan was published; its slot belongs to the subscribers now (loan another)");
  }
  const SampleSpec& spec = loan.owner->publisher.channel().sample();
  if (spec.kind == ChannelSampleKind::value) {
    return py::array(py::dtype("|u1"), {static_cast<py::ssize_t>(loan.bytes)}, {}, loan.data, self);
  }
  const std::vector<py::ssize_t> shape(loan.shape.begin(), loan.shape.end());
  return py::array(numpy_dtype(spec.dtype), shape, {}, loan.data, self);
}

// --- channel ---------------------------------------------------------------

SampleSpec spec_from(const std::optional<std::string>& dtype, const std::optional<std::vector<std::size_t>>& shape,
                     std::optional<std::size_t> bytes, std::optional<std::size_t> max_bytes) {
  const int given = int{bytes.has_value()} + int{shape.has_value()} + int{max_bytes.has_value()};
  if (given != 1) {
    throw py::value_error(
        "give exactly one of shape= (fixed N-d arrays of dtype), max_bytes= (arrays of dtype, shape chosen per "
        "sample) or bytes= (raw samples of that size)");
  }
  if (bytes) {
    return SampleSpec::bytes_of(*bytes);
  }
  const Dtype parsed = parse_dtype(dtype.value_or("u1"));
  if (max_bytes) {
    return SampleSpec::variable_array(parsed, *max_bytes);
  }
  return SampleSpec::array(parsed, *shape);
}

ChannelOverflow overflow_from(const std::string& text) {
  if (text == "drop_oldest") {
    return ChannelOverflow::drop_oldest;
  }
  if (text == "block") {
    return ChannelOverflow::block;
  }
  throw py::value_error("overflow must be 'drop_oldest' or 'block', not '" + text + "'");
}

py::dict info_dict(const Channel& channel) {
  const ChannelInfo info = channel.info();
  py::dict out;
  out["name"] = info.name;
  out["segment_name"] = info.segment_name;
  out["kind"] = info.sample.kind == ChannelSampleKind::value   ? "bytes"
                : info.sample.kind == ChannelSampleKind::array ? "array"
                                                               : "variable_array";
  out["dtype"] = info.sample.kind == ChannelSampleKind::value ? py::none() : py::object(numpy_dtype(info.sample.dtype));
  out["shape"] = py::tuple(py::cast(info.sample.shape));
  out["sample_bytes"] = info.sample.bytes;
  out["slots"] = info.slots;
  out["history"] = info.history;
  out["max_subscribers"] = info.max_subscribers;
  out["overflow"] = info.overflow == ChannelOverflow::block ? "block" : "drop_oldest";
  out["published"] = info.published;
  out["publisher_pid"] = info.publisher ? py::object(py::int_(info.publisher->pid)) : py::none();
  out["free_slots"] = info.free_slots;
  out["loans_failed"] = info.loans_failed;
  py::list subscribers;
  for (const ChannelSubscriberInfo& s : info.subscribers) {
    py::dict sub;
    sub["pid"] = s.process.pid;
    sub["alive"] = s.alive;
    sub["received"] = s.received;
    sub["missed"] = s.missed;
    sub["skipped"] = s.skipped;
    sub["holding"] = s.holding;
    subscribers.append(sub);
  }
  out["subscribers"] = subscribers;
  return out;
}

}  // namespace

void bind_channel(py::module_& m) {
  py::class_<PySample>(m, "Sample",
                       "A received sample: read-only, held (its slot is not reused) while this object or an array\n"
                       "from it lives.")
      .def_property_readonly("array", &sample_array,
                             "A read-only numpy array over the sample in shared memory (no copy): the channel's\n"
                             "dtype and shape, or uint8 bytes for byte channels.")
      .def_property_readonly(
          "sequence", [](const PySample& s) { return s.sample->sequence(); },
          "1 for the first sample ever published on the channel, then +1 each.")
      .def_property_readonly(
          "publish_ns", [](const PySample& s) { return s.sample->publish_ns(); },
          "CLOCK_MONOTONIC nanoseconds at publish (time.monotonic_ns() in any process of this machine).");

  py::class_<PySubscriber>(m, "Subscriber", "A subscriber of a channel (Channel.subscriber()).")
      .def("receive", &PySubscriber::receive, py::arg("timeout") = 0.0,
           "The next sample in publish order, waiting up to `timeout` seconds (None: forever), or None.\n"
           "Samples overwritten before this subscriber got to them are skipped and counted in `missed`.\n"
           "Ctrl-C interrupts the wait.")
      .def("latest", &PySubscriber::latest,
           "The newest sample (even if received before), passing over older unread ones; None if nothing\n"
           "was published yet.")
      .def("wait", &PySubscriber::wait, py::arg("timeout") = py::none(),
           "True when a sample is ready, waiting up to `timeout` seconds (None: forever).")
      .def("close", &PySubscriber::close, "Disconnects (once every sample from it is gone).")
      .def_property_readonly("closed", &PySubscriber::closed, "True after close().")
      .def_property_readonly("missed", &PySubscriber::missed,
                             "Samples overwritten before this subscriber received them.")
      .def_property_readonly("received", &PySubscriber::received, "Samples this subscriber received.")
      .def_property_readonly("skipped", &PySubscriber::skipped, "Unread samples latest() passed over.")
      .def_property_readonly("pending", &PySubscriber::pending,
                             "Published samples not received yet, overwritten ones included.")
      .def(
          "__enter__", [](PySubscriber& s) -> PySubscriber& { return s; }, "Returns this object, for `with`.")
      .def(
          "__exit__", [](PySubscriber& s, const py::args&) { s.close(); }, "Calls close().");

  py::class_<PyLoan>(m, "Loan", "A slot on loan to the publisher: fill `.array`, then Publisher.publish(loan).")
      .def_property_readonly("array", &loan_array,
                             "A writable numpy array over the slot (no copy); its old contents are an earlier "
                             "sample's.");

  py::class_<PyPublisher>(m, "Publisher", "The publisher of a channel (Channel.publisher()).")
      .def("loan", &PyPublisher::loan, py::arg("timeout") = 0.0,
           "A free slot to fill in place, waiting up to `timeout` seconds; None when none came free.")
      .def("publish", &PyPublisher::publish, py::arg("loan"),
           "Publishes a loan; returns its sequence number. The loan's array must not be written after.")
      .def("send", &PyPublisher::send, py::arg("data"), py::arg("timeout") = 0.0,
           "Copies `data` (the channel's dtype and shape, contiguous) into a slot and publishes it;\n"
           "returns its sequence number, or None if no slot came free within `timeout` seconds.")
      .def("close", &PyPublisher::close, "Gives up the publisher role.")
      .def_property_readonly("closed", &PyPublisher::closed, "True after close().")
      .def_property_readonly("published", &PyPublisher::published, "Samples this publisher published.")
      .def(
          "__enter__", [](PyPublisher& p) -> PyPublisher& { return p; }, "Returns this object, for `with`.")
      .def(
          "__exit__", [](PyPublisher& p, const py::args&) { p.close(); }, "Calls close().");

  py::class_<Channel>(m, "Channel",
                      "A named zero-copy publish/subscribe channel between processes (/dev/shm/shmkit-chan.<name>).")
      .def_static(
          "create",
          [](const std::string& name, const std::optional<std::string>& dtype,
             const std::optional<std::vector<std::size_t>>& shape, std::optional<std::size_t> bytes,
             std::optional<std::size_t> max_bytes, std::uint32_t slots, std::uint32_t history,
             std::uint32_t max_subscribers, const std::string& overflow, unsigned mode) {
            return Channel::create(name, {.sample = spec_from(dtype, shape, bytes, max_bytes),
                                          .slots = slots,
                                          .history = history,
                                          .max_subscribers = max_subscribers,
                                          .overflow = overflow_from(overflow),
                                          .mode = static_cast<mode_t>(mode)});
          },
          py::arg("name"), py::kw_only(), py::arg("dtype") = py::none(), py::arg("shape") = py::none(),
          py::arg("bytes") = py::none(), py::arg("max_bytes") = py::none(), py::arg("slots") = 8,
          py::arg("history") = 1, py::arg("max_subscribers") = 8, py::arg("overflow") = "drop_oldest",
          py::arg("mode") = 0600,
          "Creates channel `name` of samples: `dtype` + `shape` (fixed N-d arrays), `dtype` + `max_bytes`\n"
          "(arrays whose shape is chosen per sample) or `bytes` (raw samples). A channel of that name whose\n"
          "processes are all dead is replaced. Raises InvalidNameError, ObjectExistsError, Error.")
      .def_static("open", &Channel::open, py::arg("name"),
                  "Opens an existing channel. Raises InvalidNameError, ObjectNotFoundError, LayoutError.")
      .def_static("remove", &Channel::remove, py::arg("name"), "Unlinks the channel's segment; True if it existed.")
      .def(
          "publisher",
          [](const Channel& channel) {
            return PyPublisher(std::make_shared<PublisherCore>(channel.publisher()), channel.name());
          },
          "Claims the publisher role (one publisher at a time). Raises ObjectExistsError.")
      .def(
          "subscriber",
          [](const Channel& channel, const std::string& start) {
            if (start != "history" && start != "now") {
              throw py::value_error("start must be 'history' or 'now', not '" + start + "'");
            }
            const SubscriberOptions options{.start = start == "now" ? SubscriberStart::now : SubscriberStart::history};
            return PySubscriber(std::make_shared<SubscriberCore>(channel.subscriber(options)), channel.name());
          },
          py::arg("start") = "history",
          "Connects a subscriber: 'history' starts with the retained newest samples, 'now' with the next one.")
      .def("reclaim_dead", &Channel::reclaim_dead, "Takes back the slots of dead participants; returns how many.")
      .def("info", &info_dict, "Geometry, counters and participants, as a dict.")
      .def_property_readonly("name", &Channel::name, "The channel's name.");
}

}  // namespace shmkit::python
