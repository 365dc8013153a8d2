#include "demo/summary.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <ostream>

#include "cli/common/format.hpp"
#include "cli/common/table.hpp"

namespace shmkit::cli::demo {

namespace {

std::string ratio(std::uint64_t raw, std::uint64_t stored) {
  return stored > 0 ? fixed(static_cast<double>(raw) / static_cast<double>(stored), 2) + "x" : "-";
}

std::string optional_count(const std::optional<std::uint64_t>& value) {
  return value ? std::to_string(*value) : "-";
}

std::string latency_cell(const LatencySummary& latency, double LatencySummary::*field) {
  return latency.count > 0 ? human_duration(latency.*field) : "-";
}

std::uint64_t count_of(const WorkerReport& report, const std::string& key) {
  const auto it = report.counts.find(key);
  return it == report.counts.end() ? 0 : it->second;
}

// One log source: the rig itself or a worker.
struct Producer {
  std::string process;
  pid_t pid = 0;
  std::uint8_t source_id = 0;
  std::string status;
  const WorkerReport* report = nullptr;  // null: it did not report
};

std::vector<Producer> producers(const RunRecord& record, const DemoConfig& config) {
  std::vector<Producer> list{{"rig", record.parent_pid, config.logger.source_id, "ok", &record.rig}};
  for (const WorkerProcess& worker : record.workers) {
    Producer producer;
    producer.process = std::string(role_name(worker.role));
    producer.pid = worker.pid;
    producer.source_id = source_of(worker.role, config);
    const bool clean = worker.status && WIFEXITED(*worker.status) && WEXITSTATUS(*worker.status) == 0;
    producer.status = clean ? "ok" : worker.killed_by_parent ? "killed: did not stop" : describe_status(*worker.status);
    const auto report = record.reports.find(worker.role);
    producer.report = report == record.reports.end() ? nullptr : &report->second;
    list.push_back(std::move(producer));
  }
  return list;
}

const ArchiveCheck* check_of(const std::optional<ArchiveOutcome>& archives, std::uint8_t source_id) {
  if (!archives) {
    return nullptr;
  }
  for (const ArchiveCheck& check : archives->checks) {
    if (check.source_id == source_id) {
      return &check;
    }
  }
  return nullptr;
}

void check_source(const Producer& producer, const ArchiveCheck& check, std::vector<std::string>& problems) {
  const std::string who = "source " + std::to_string(producer.source_id) + " (" + producer.process + ")";
  if (!check.present) {
    if (producer.report != nullptr) {  // a process that died early may not have logged at all
      problems.push_back(who + ": no archive " + check.path.string());
    }
    return;
  }
  if (!check.error.empty()) {
    problems.push_back(who + ": the archive cannot be read: " + check.error);
  }
  if (!check.has_onset) {
    problems.push_back(who + ": the archive has no onset entry");
  }
  if (producer.report == nullptr) {
    return;
  }
  if (check.entries != producer.report->logged) {
    problems.push_back(who + ": " + std::to_string(producer.report->logged) + " entries logged, " +
                       std::to_string(check.entries) + " in the archive");
  }
  if (check.payload_bytes != producer.report->payload_bytes) {
    problems.push_back(who + ": " + std::to_string(producer.report->payload_bytes) + " payload bytes logged, " +
                       std::to_string(check.payload_bytes) + " in the archive");
  }
  if (producer.report->dropped != 0) {
    problems.push_back(who + ": " + std::to_string(producer.report->dropped) + " entries dropped");
  }
}

void check_assembly(const AssembleReport& report, std::vector<std::string>& problems) {
  for (const SourceAssembly& source : report.sources) {
    const std::string who = "assembling source " + std::to_string(source.source_id);
    if (source.failed) {
      problems.push_back(who + " failed");
    }
    for (const std::string& problem : source.problems) {
      problems.push_back(who + ": " + problem);
    }
  }
  if (report.duplicates != 0) {
    problems.push_back("assembly found " + std::to_string(report.duplicates) + " entries sharing a source and a time");
  }
}

}  // namespace

DemoSummary summarise(const RunRecord& record, const DemoConfig& config,
                      const std::optional<ArchiveOutcome>& archives) {
  DemoSummary summary;
  summary.stop_reason = record.stop_reason;
  summary.seconds = record.seconds;
  summary.problems = record.problems;
  summary.trials = record.trials;
  summary.log_directory = record.log_directory;
  summary.assembled = archives.has_value();
  summary.compression_level = config.logger.compression_level;
  summary.store_objects = record.store.objects;
  summary.store_used_bytes = record.store.used;
  summary.store_capacity_bytes = record.store.capacity;
  std::vector<std::string>& problems = summary.problems;

  if (archives) {
    summary.assemble_seconds = archives->seconds;
    check_assembly(archives->report, problems);
  }
  for (const Producer& producer : producers(record, config)) {
    SourceSummary source;
    source.source_id = producer.source_id;
    source.process = producer.process;
    source.pid = producer.pid;
    source.status = producer.status;
    if (producer.report != nullptr) {
      source.logged = producer.report->logged;
      source.dropped = producer.report->dropped;
      source.log_latency = producer.report->log;
      auto add_call = [&](const char* call, const LatencySummary& latency) {
        if (latency.count > 0) {
          summary.store_calls.push_back({producer.process, call, latency});
        }
      };
      add_call("set", producer.report->store_set);
      add_call("first_bind", producer.report->store_first_bind);
      add_call("get", producer.report->store_get);
      add_call("get_once", producer.report->store_get_once);
    }
    if (const ArchiveCheck* check = check_of(archives, producer.source_id)) {
      source.archived = check->entries;
      source.payload_bytes = check->payload_bytes;
      source.archive = check->path;
      source.archive_bytes = check->file_bytes;
      summary.archive_bytes += check->file_bytes;
      summary.payload_bytes += check->payload_bytes;
      check_source(producer, *check, problems);
      if (producer.process == role_name(Role::camera)) {
        summary.frames.logged = check->frames;
        summary.frames.in_order = check->frames_in_order;
      }
    }
    summary.sources.push_back(std::move(source));
  }

  summary.frames.produced = record.frames_written;
  summary.frames.analysed = record.frames_analysed;
  if (const auto camera = record.reports.find(Role::camera); camera != record.reports.end()) {
    summary.frames.published = count_of(camera->second, "published");
  }
  if (const auto analysis = record.reports.find(Role::analysis); analysis != record.reports.end()) {
    summary.frames.passed_over = count_of(analysis->second, "passed_over");
    summary.frames.missed = count_of(analysis->second, "missed");
    summary.frames.torn = count_of(analysis->second, "torn");
    summary.frames.latency = analysis->second.frame_latency;
  }
  if (summary.frames.torn != 0) {
    problems.push_back(std::to_string(summary.frames.torn) +
                       " frames received from the channel were torn or out of order");
  }
  if (archives) {
    if (summary.frames.in_order != summary.frames.logged) {
      problems.push_back(std::to_string(summary.frames.logged - summary.frames.in_order) +
                         " logged frames are out of order, damaged or missing");
    }
    // Only a camera that stopped when asked has logged every frame it made.
    if (record.reports.contains(Role::camera) && summary.frames.logged != summary.frames.produced) {
      problems.push_back("the camera produced " + std::to_string(summary.frames.produced) + " frames and logged " +
                         std::to_string(summary.frames.logged));
    }
  }
  if (record.logger.dropped != 0) {
    problems.push_back("the logger counted " + std::to_string(record.logger.dropped) + " dropped entries");
  }
  if (record.logger.discarded_partial != 0) {
    problems.push_back("the logger discarded " + std::to_string(record.logger.discarded_partial) + " partial entries");
  }
  summary.ok = problems.empty();
  return summary;
}

void print_summary(const DemoSummary& summary, std::ostream& out) {
  using Align = Table::Align;
  out << "\nstopped after " << fixed(summary.seconds, 2) << " s: " << summary.stop_reason << "\n";
  const FrameSummary& frames = summary.frames;
  out << "frames: " << frames.produced << " produced, " << frames.analysed << " analysed, " << frames.logged
      << " logged (" << (frames.in_order == frames.logged ? "all in order" : "NOT all in order") << "); "
      << summary.trials << " behaviour trials\n";
  const LatencySummary& latency = frames.latency;
  out << "channel: " << frames.published << " frames published, " << frames.analysed << " received by the analysis, "
      << frames.passed_over << " passed over for a newer one, " << frames.missed << " missed, " << frames.torn
      << " torn; publish to receive p50 " << latency_cell(latency, &LatencySummary::p50_ns) << ", p99 "
      << latency_cell(latency, &LatencySummary::p99_ns) << ", max " << latency_cell(latency, &LatencySummary::max_ns)
      << "\n\n";

  Table sources({{"SOURCE", Align::right},
                 {"PROCESS"},
                 {"PID", Align::right},
                 {"STATUS"},
                 {"LOGGED", Align::right},
                 {"ARCHIVED", Align::right},
                 {"PAYLOAD", Align::right},
                 {"DROPPED", Align::right},
                 {"LOG() P50", Align::right},
                 {"P99", Align::right},
                 {"P99.9", Align::right},
                 {"MAX", Align::right},
                 {"ARCHIVE", Align::right},
                 {"RATIO", Align::right}});
  for (const SourceSummary& source : summary.sources) {
    const LatencySummary& latency = source.log_latency;
    sources.add_row({std::to_string(source.source_id), source.process, std::to_string(source.pid), source.status,
                     optional_count(source.logged), std::to_string(source.archived), human_size(source.payload_bytes),
                     optional_count(source.dropped), latency_cell(latency, &LatencySummary::p50_ns),
                     latency_cell(latency, &LatencySummary::p99_ns), latency_cell(latency, &LatencySummary::p999_ns),
                     latency_cell(latency, &LatencySummary::max_ns), human_size(source.archive_bytes),
                     ratio(source.payload_bytes, source.archive_bytes)});
  }
  sources.print(out);

  out << '\n';
  Table calls({{"STORE CALL"},
               {"PROCESS"},
               {"COUNT", Align::right},
               {"P50", Align::right},
               {"P99", Align::right},
               {"P99.9", Align::right},
               {"MAX", Align::right}});
  for (const StoreCallSummary& call : summary.store_calls) {
    const LatencySummary& latency = call.latency;
    const std::string what = call.call == "set"          ? "set (publish, rebind)"
                             : call.call == "first_bind" ? "set (first bind, published)"
                             : call.call == "get"        ? "get (by name, decoded)"
                                                         : "get once (settings, report)";
    calls.add_row({what, call.process, std::to_string(latency.count), latency_cell(latency, &LatencySummary::p50_ns),
                   latency_cell(latency, &LatencySummary::p99_ns), latency_cell(latency, &LatencySummary::p999_ns),
                   latency_cell(latency, &LatencySummary::max_ns)});
  }
  calls.print(out);
  out << "store at the end: " << summary.store_objects << " objects, " << human_size(summary.store_used_bytes) << " of "
      << human_size(summary.store_capacity_bytes) << " in use\n";

  if (summary.assembled) {
    out << "archives: " << human_size(summary.archive_bytes) << " for " << human_size(summary.payload_bytes)
        << " of entries (" << ratio(summary.payload_bytes, summary.archive_bytes) << ", "
        << (summary.compression_level == 0 ? "stored" : "deflate level " + std::to_string(summary.compression_level))
        << "), assembled and verified in " << fixed(summary.assemble_seconds, 2)
        << " s, read back with LogArchiveReader: " << summary.log_directory.string() << "\n";
  } else {
    out << "archives: not assembled; the record files are in " << summary.log_directory.string()
        << " (shmkit log assemble " << summary.log_directory.string() << " --compress " << summary.compression_level
        << ")\n";
  }
}

}  // namespace shmkit::cli::demo
