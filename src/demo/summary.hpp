#pragma once
// The summary of a demo run: built from what the rig recorded and what the
// archives hold, printed as tables and saved as `summary.yaml` next to the
// archives (a described struct, so scripts read it with any YAML reader).
// Every invariant that does not hold becomes one line of `problems`.

#include <shmkit/logger/assemble.hpp>

#include <boost/describe.hpp>

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "demo/archives.hpp"
#include "demo/config.hpp"
#include "demo/latency.hpp"
#include "demo/rig.hpp"

namespace shmkit::cli::demo {

struct SourceSummary {
  std::uint8_t source_id = 0;
  std::string process;
  std::int32_t pid = 0;
  std::string status;                   // "ok", or how the process ended
  std::optional<std::uint64_t> logged;  // entries the process put in its ring (null: no report)
  std::optional<std::uint64_t> dropped;
  std::uint64_t archived = 0;       // entries read back from the archive
  std::uint64_t payload_bytes = 0;  // of those entries
  std::filesystem::path archive;
  std::uint64_t archive_bytes = 0;
  LatencySummary log_latency;  // producer side
};
BOOST_DESCRIBE_STRUCT(SourceSummary, (),
                      (source_id, process, pid, status, logged, dropped, archived, payload_bytes, archive,
                       archive_bytes, log_latency))

struct StoreCallSummary {
  std::string process;
  std::string call;  // "set": Brain::set or set_many; "get": Brain::get, try_get or get_array; "get_once": a read
                     // done once (a worker's settings at start, the rig's reports at the end)
  LatencySummary latency;
};
BOOST_DESCRIBE_STRUCT(StoreCallSummary, (), (process, call, latency))

struct FrameSummary {
  std::uint64_t produced = 0;     // frames the camera made
  std::uint64_t published = 0;    // of those, published on the channel (the rest found no free slot)
  std::uint64_t analysed = 0;     // frames the analysis received and computed a result for
  std::uint64_t passed_over = 0;  // published frames the analysis skipped to take a newer one
  std::uint64_t missed = 0;       // published frames overwritten before the analysis got to them
  std::uint64_t logged = 0;       // frames in the camera's archive
  std::uint64_t in_order = 0;     // of those, numbered 0, 1, 2, ... in turn
  std::uint64_t torn = 0;         // received frames whose stamps disagreed or went backwards
  LatencySummary latency;         // publish (camera) to receive (analysis)
};
BOOST_DESCRIBE_STRUCT(FrameSummary, (),
                      (produced, published, analysed, passed_over, missed, logged, in_order, torn, latency))

struct DemoSummary {
  bool ok = false;
  std::string stop_reason;
  double seconds = 0;
  std::vector<std::string> problems;
  FrameSummary frames;
  std::uint64_t trials = 0;
  std::vector<SourceSummary> sources;
  std::vector<StoreCallSummary> store_calls;
  std::uint64_t store_objects = 0;  // at the end of the run
  std::uint64_t store_used_bytes = 0;
  std::uint64_t store_capacity_bytes = 0;
  std::filesystem::path log_directory;
  bool assembled = false;
  int compression_level = 0;
  double assemble_seconds = 0;
  std::uint64_t archive_bytes = 0;  // all archives
  std::uint64_t payload_bytes = 0;  // all entries
};
BOOST_DESCRIBE_STRUCT(DemoSummary, (),
                      (ok, stop_reason, seconds, problems, frames, trials, sources, store_calls, store_objects,
                       store_used_bytes, store_capacity_bytes, log_directory, assembled, compression_level,
                       assemble_seconds, archive_bytes, payload_bytes))

/// The archives as assembled and checked; nullopt when assembly was skipped.
struct ArchiveOutcome {
  AssembleReport report;
  double seconds = 0;
  std::vector<ArchiveCheck> checks;  // one per source, in source order
};

[[nodiscard]] DemoSummary summarise(const RunRecord& record, const DemoConfig& config,
                                    const std::optional<ArchiveOutcome>& archives);

void print_summary(const DemoSummary& summary, std::ostream& out);

}  // namespace shmkit::cli::demo
