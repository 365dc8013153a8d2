/// @file
/// `shmkit.LogWriter`, `shmkit.DataLogger`, `shmkit.assemble_log_archives`
/// and `shmkit.LogArchiveReader`: the binary logger and its `.npz` archives.

#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <shmkit/core/error.hpp>
#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/assemble.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/log_writer.hpp>
#include <shmkit/logger/options.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "numpy_views.hpp"

namespace shmkit::python {
namespace {

FullPolicy parse_policy(const std::string& policy) {
  if (policy == "block") {
    return FullPolicy::block;
  }
  if (policy == "drop") {
    return FullPolicy::drop;
  }
  throw py::value_error("policy must be 'block' or 'drop', not '" + policy + "'");
}

/// A C-contiguous buffer view of any object exporting one (bytes, bytearray,
/// memoryview, ndarray); released on destruction.
class ContiguousBuffer {
 public:
  explicit ContiguousBuffer(const py::handle& object) {
    if (PyObject_GetBuffer(object.ptr(), &view_, PyBUF_C_CONTIGUOUS) != 0) {
      throw py::error_already_set();  // BufferError: not contiguous, or no buffer at all (TypeError)
    }
  }
  ContiguousBuffer(const ContiguousBuffer&) = delete;
  ContiguousBuffer& operator=(const ContiguousBuffer&) = delete;
  ~ContiguousBuffer() { PyBuffer_Release(&view_); }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept {
    return {static_cast<const std::byte*>(view_.buf), static_cast<std::size_t>(view_.len)};
  }

 private:
  Py_buffer view_{};
};

class PyLogWriter {
 public:
  PyLogWriter(LogWriter writer, FullPolicy policy)
      : writer_(std::make_unique<LogWriter>(std::move(writer))),
        blocking_(policy == FullPolicy::block),
        generation_(fork_generation()) {}
  PyLogWriter(PyLogWriter&&) noexcept = default;
  PyLogWriter& operator=(PyLogWriter&&) = delete;
  ~PyLogWriter() { close(); }

  LogWriter& writer() {
    if (!writer_) {
      throw shmkit::Error("LogWriter is closed");
    }
    if (generation_ != fork_generation()) {
      throw shmkit::Error("LogWriter was connected before this process forked; connect a new one in the child");
    }
    return *writer_;
  }

  bool log(int source, const py::handle& payload, const py::handle& timestamp) {
    LogWriter& w = writer();
    const std::uint8_t id = source_id(source);
    const ContiguousBuffer buffer(payload);
    const std::uint64_t time = timestamp.is_none() ? w.elapsed_us() : timestamp.cast<std::uint64_t>();
    if (blocking_) {
      const py::gil_scoped_release release;  // a full ring waits for the saver
      return w.log(id, time, buffer.bytes());
    }
    return w.log(id, time, buffer.bytes());
  }

  bool write_onset(int source) {
    LogWriter& w = writer();
    const std::uint8_t id = source_id(source);
    const py::gil_scoped_release release;
    return w.write_onset(id);
  }

  void close() {
    if (writer_ && generation_ != fork_generation()) {
      leave_to_parent(*writer_);
    }
    writer_.reset();
  }

  static std::uint8_t source_id(int source) {
    if (source < 0 || source > 255) {
      throw py::value_error("source id must be 0..255, not " + std::to_string(source));
    }
    return static_cast<std::uint8_t>(source);
  }

 private:
  std::unique_ptr<LogWriter> writer_;
  bool blocking_;
  std::uint64_t generation_;
};

py::dict logger_stats(const LoggerStats& stats) {
  py::dict out;
  out["entries_saved"] = stats.entries_saved;
  out["bytes_saved"] = stats.bytes_saved;
  out["dropped"] = stats.dropped;
  out["discarded_partial"] = stats.discarded_partial;
  out["files_created"] = stats.files_created;
  out["errors"] = stats.errors;
  py::list writers;
  for (const auto& writer : stats.writers) {
    py::dict w;
    w["slot"] = writer.slot;
    w["pid"] = writer.pid;
    w["alive"] = writer.alive;
    w["state"] = writer.state == WriterSlotState::active ? "active" : "closed";
    w["logged"] = writer.logged;
    w["dropped"] = writer.dropped;
    w["saved"] = writer.saved;
    writers.append(w);
  }
  out["writers"] = writers;
  return out;
}

class PyDataLogger {
 public:
  PyDataLogger(const std::filesystem::path& out, const std::string& instance, std::uint32_t max_writers,
               std::size_t ring_bytes, const std::string& fsync) {
    DataLoggerOptions options;
    options.max_writers = max_writers;
    options.ring_bytes = ring_bytes;
    if (fsync == "none") {
      options.fsync = FsyncPolicy::none;
    } else if (fsync == "always") {
      options.fsync = FsyncPolicy::always;
    } else if (fsync != "interval") {
      throw py::value_error("fsync must be 'none', 'interval' or 'always', not '" + fsync + "'");
    }
    const py::gil_scoped_release release;
    logger_ = std::make_unique<DataLogger>(out, instance, std::move(options));
  }
  DataLogger& logger() const {
    if (!logger_) {
      throw shmkit::Error("DataLogger is closed");
    }
    return *logger_;
  }
  void start() {
    DataLogger& l = logger();
    const py::gil_scoped_release release;
    l.start();
  }
  py::dict stop() {
    DataLogger& l = logger();
    LoggerStats stats;
    {
      const py::gil_scoped_release release;
      stats = l.stop();
    }
    return logger_stats(stats);
  }
  void close() {
    if (logger_) {
      const py::gil_scoped_release release;
      logger_.reset();
    }
  }

 private:
  std::unique_ptr<DataLogger> logger_;
};

py::dict assembly_report(const AssembleReport& report) {
  py::dict out;
  out["entries"] = report.entries;
  out["duplicates"] = report.duplicates;
  out["clean"] = report.clean();
  py::list sources;
  for (const auto& s : report.sources) {
    py::dict d;
    d["source_id"] = s.source_id;
    d["archive"] = s.archive;
    d["entries"] = s.entries;
    d["from_archive"] = s.from_archive;
    d["from_record_files"] = s.from_record_files;
    d["from_npy_files"] = s.from_npy_files;
    d["duplicates"] = s.duplicates;
    d["problems"] = s.problems;
    d["failed"] = s.failed;
    sources.append(d);
  }
  out["sources"] = sources;
  return out;
}

/// An entry's payload, owned by the ndarray that shows it.
struct Payload {
  std::vector<std::byte> bytes;
};

py::array payload_array(std::vector<std::byte>&& bytes) {
  auto owner = std::make_shared<Payload>(Payload{std::move(bytes)});
  const std::size_t size = owner->bytes.size();
  return view_of(owner, Dtype::u1, std::span<const std::size_t>(&size, 1), owner->bytes.data(), false);
}

/// Iterates over an archive's entries; with `messages_only`, over
/// (timestamp_us, payload) of the non-onset ones, else over
/// (source_id, acquisition_time, payload) of all.
class EntryIterator {
 public:
  EntryIterator(std::shared_ptr<LogArchiveReader> reader, bool messages_only)
      : reader_(std::move(reader)),
        cursor_(reader_->entries()),
        messages_only_(messages_only),
        onset_(messages_only ? reader_->onset_us().value_or(0) : 0) {}

  py::tuple next() {
    LogEntry entry;
    while (true) {
      bool more = false;
      {
        const py::gil_scoped_release release;
        more = cursor_.next(entry);
      }
      if (!more) {
        throw py::stop_iteration();
      }
      if (messages_only_ && entry.acquisition_time == kOnsetTime) {
        continue;
      }
      if (messages_only_) {
        return py::make_tuple(onset_ + entry.acquisition_time, payload_array(std::move(entry.payload)));
      }
      return py::make_tuple(entry.source_id, entry.acquisition_time, payload_array(std::move(entry.payload)));
    }
  }

 private:
  std::shared_ptr<LogArchiveReader> reader_;
  LogArchiveReader::Cursor cursor_;
  bool messages_only_;
  std::uint64_t onset_;
};

}  // namespace

void bind_logger(py::module_& m) {
  py::class_<PyLogWriter>(m, "LogWriter",
                          "The producing side of a logger: one ring in DataLogger `instance`'s shared segment. "
                          "One writer per thread; not usable in a forked child (connect a new one there).")
      .def_static(
          "connect",
          [](const std::string& instance, const std::string& policy, double block_timeout) {
            LogWriterOptions options;
            options.policy = parse_policy(policy);
            options.block_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(block_timeout * 1000));
            LogWriter writer = [&] {
              const py::gil_scoped_release release;
              return LogWriter::connect(instance, options);
            }();
            return std::make_unique<PyLogWriter>(std::move(writer), options.policy);
          },
          py::arg("instance"), py::arg("policy") = "block", py::arg("block_timeout") = 2.0,
          "Claims a writer slot of logger `instance`. `policy` is what log() does when the ring is full: "
          "'block' waits (without the GIL) up to `block_timeout` seconds for the saver, then drops; 'drop' "
          "drops at once. Raises ObjectNotFoundError when no logger segment has that instance name.")
      .def("log", &PyLogWriter::log, py::arg("source"), py::arg("payload"), py::arg("timestamp_us") = py::none(),
           "Logs one entry of source `source` (0..255): `payload` is any C-contiguous buffer (bytes, "
           "bytearray, memoryview, ndarray), copied once, straight into the ring; a non-contiguous one raises "
           "ValueError (numpy) or BufferError. `timestamp_us` is the acquisition time in µs since the source's onset "
           "(default: "
           "elapsed_us()). Returns False when the entry was dropped (counted in `dropped`).")
      .def("write_onset", &PyLogWriter::write_onset, py::arg("source"),
           "Logs `source`'s onset entry (the current UTC time in µs) and restarts elapsed_us() at 0.")
      .def_property_readonly(
          "elapsed_us", [](PyLogWriter& self) { return self.writer().elapsed_us(); },
          "Monotonic µs since the last write_onset().")
      .def_property_readonly(
          "logged", [](PyLogWriter& self) { return self.writer().stats().logged; }, "Entries placed in the ring.")
      .def_property_readonly(
          "dropped", [](PyLogWriter& self) { return self.writer().stats().dropped; }, "Entries dropped.")
      .def_property_readonly(
          "slot", [](PyLogWriter& self) { return self.writer().slot(); }, "The writer slot held.")
      .def("close", &PyLogWriter::close, "Releases the slot; the logger saves what is left in the ring.")
      .def(
          "__enter__", [](PyLogWriter& self) -> PyLogWriter& { return self; }, py::return_value_policy::reference,
          "Returns this object, for `with`.")
      .def(
          "__exit__", [](PyLogWriter& self, const py::args&) { self.close(); }, "Calls close().");

  py::class_<PyDataLogger>(m, "DataLogger",
                           "The consuming side of a logger: creates /dev/shm/shmkit-log.<instance> and, once "
                           "started, saves every writer's entries to record files in "
                           "<out>/<instance>_data_log/. As a context manager it starts on entry and stops on "
                           "exit. Turn the directory into .npz archives with assemble_log_archives().")
      .def(py::init<const std::filesystem::path&, const std::string&, std::uint32_t, std::size_t, const std::string&>(),
           py::arg("out"), py::arg("instance"), py::arg("max_writers") = 16, py::arg("ring_bytes") = 1U << 20U,
           py::arg("fsync") = "interval",
           "Creates the log directory and the segment (writers may connect at once). Raises "
           "InvalidNameError, ObjectExistsError (a live logger has this instance name).")
      .def("start", &PyDataLogger::start, "Starts the saver thread (no-op while running).")
      .def("stop", &PyDataLogger::stop,
           "Drains every ring, fsyncs and joins the saver (without the GIL); returns the counters as a dict.")
      .def_property_readonly(
          "running", [](const PyDataLogger& self) { return self.logger().running(); }, "True while saving.")
      .def(
          "stats", [](const PyDataLogger& self) { return logger_stats(self.logger().stats()); },
          "Current counters, a dict: entries_saved, bytes_saved, dropped, discarded_partial, files_created, errors, "
          "and writers (per writer slot: slot, pid, alive, state 'active' or 'closed', logged, dropped, saved).")
      .def_property_readonly(
          "log_directory", [](const PyDataLogger& self) { return self.logger().log_directory(); },
          "<out>/<instance>_data_log, a pathlib.Path.")
      .def_property_readonly(
          "instance", [](const PyDataLogger& self) { return self.logger().instance_name(); }, "The instance name.")
      .def("close", &PyDataLogger::close, "Stops and releases the segment.")
      .def(
          "__enter__",
          [](PyDataLogger& self) -> PyDataLogger& {
            self.start();
            return self;
          },
          py::return_value_policy::reference, "Calls start() and returns this logger, for `with`.")
      .def(
          "__exit__", [](PyDataLogger& self, const py::args&) { self.close(); }, "Calls close().")
      .def_static("remove_segment", &DataLogger::remove_segment, py::arg("instance"),
                  "Removes the segment a crashed logger left; False if there was none.");

  m.def(
      "assemble_log_archives",
      [](const std::filesystem::path& log_dir, int compression_level, bool verify, bool remove_sources,
         unsigned threads, bool strict) {
        AssembleOptions options;
        options.compression_level = compression_level;
        options.verify = verify;
        options.remove_sources = remove_sources;
        options.threads = threads;
        options.strict = strict;
        AssembleReport report;
        {
          const py::gil_scoped_release release;
          report = assemble_log_archives(log_dir, options);
        }
        return assembly_report(report);
      },
      py::arg("log_directory"), py::arg("compression_level") = 0, py::arg("verify") = true,
      py::arg("remove_sources") = true, py::arg("threads") = 0, py::arg("strict") = false,
      "Turns a stopped logger's directory into one {source_id}_log.npz per source (numpy.load reads them), "
      "without the GIL. Returns a report dict (entries, duplicates, clean, sources). Raises "
      "ObjectNotFoundError, Error (a running logger holds the directory), CorruptDataError (strict).");

  py::class_<EntryIterator>(m, "LogEntryIterator", "Iterator over a LogArchiveReader's entries.")
      .def(
          "__iter__", [](EntryIterator& self) -> EntryIterator& { return self; }, py::return_value_policy::reference,
          "Returns this iterator.")
      .def("__next__", &EntryIterator::next, "The next entry; StopIteration at the end.");

  py::class_<LogArchiveReader, std::shared_ptr<LogArchiveReader>>(
      m, "LogArchiveReader",
      "Reads one {source_id}_log.npz archive entry by entry, without loading it. Iterating yields "
      "(timestamp_us, payload) for every message (onset entries left out): timestamp_us is the onset's UTC "
      "µs plus the acquisition time, payload a read-only numpy uint8 array.")
      .def(py::init([](const std::filesystem::path& path) {
             const py::gil_scoped_release release;
             return std::make_shared<LogArchiveReader>(path);
           }),
           py::arg("path"), "Opens `path`. Raises ObjectNotFoundError, CorruptDataError.")
      .def_property_readonly("entry_count", &LogArchiveReader::entry_count, "Entries, onset entries included.")
      .def_property_readonly("message_count", &LogArchiveReader::message_count, "Entries that are not onsets.")
      .def_property_readonly("onset_us", &LogArchiveReader::onset_us, "The onset (UTC µs) or None.")
      .def_property_readonly("path", &LogArchiveReader::path, "The archive's path.")
      .def("__len__", &LogArchiveReader::message_count, "Same as message_count.")
      .def(
          "__iter__",
          [](const std::shared_ptr<LogArchiveReader>& self) { return std::make_unique<EntryIterator>(self, true); },
          "Iterates over (timestamp_us, payload) of every message, onset entries left out.")
      .def(
          "entries",
          [](const std::shared_ptr<LogArchiveReader>& self) { return std::make_unique<EntryIterator>(self, false); },
          "Iterates over every entry as (source_id, acquisition_time, payload), onsets included.");
}

}  // namespace shmkit::python
