#pragma once
/// @file
/// Turning a log directory into archives: one `{source_id}_log.npz` per
/// source in exactly the ataraxis v7 layout (see log_package.hpp, npy.hpp).
///
/// Inputs per source, merged in ascending acquisition time (ties keep input
/// order: earlier archive, then record files by session and run, then
/// per-entry files):
/// - the existing `{source_id}_log.npz`, so assembling again after more
///   logging merges instead of dropping what the archive held;
/// - the logger's record files `{source:03d}_{session}_{run}.shmlog`;
/// - ataraxis-style per-entry files `{source:03d}_{time:020d}.npy`.
///
/// Streaming: every input is already sorted (the saver starts a new run file
/// whenever a source's time goes backwards), so a k-way merge needs one
/// entry per input in memory, whatever the archive's size. Only the listing
/// of per-entry `.npy` files grows with their count.
///
/// Caveats
/// - Run it on a stopped logger: it takes the directory's lock and fails
///   while a DataLogger is running on it.
/// - A crash during assembly leaves at most a `*.npz.tmp` file; inputs are
///   only removed (or renamed `*.assembled`) after the new archive replaced
///   the old one by rename(2), so re-running is always safe.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace shmkit {

/// Progress of an assembly, reported after each source.
struct AssembleProgress {
  std::uint32_t sources_done = 0;
  std::uint32_t sources_total = 0;
  std::uint64_t entries_written = 0;
};

struct AssembleOptions {
  /// 0 stores members (np.savez); 1..12 deflates them (np.savez_compressed).
  int compression_level = 0;
  /// Re-read each new archive and compare count and content hash with what
  /// was written before any input is removed or renamed.
  bool verify = true;
  /// Delete the inputs after a verified archive replaced the old one;
  /// otherwise rename them with the suffix `.assembled` (never read again).
  /// Damaged record files are never deleted: they are renamed `.damaged`.
  bool remove_sources = true;
  /// Sources assembled in parallel; 0 = number of CPUs.
  unsigned threads = 0;
  /// Write ZIP64 records even when not needed.
  bool force_zip64 = false;
  /// Throw CorruptDataError at the first damaged record file instead of
  /// keeping its valid prefix and reporting the damage.
  bool strict = false;
  /// Called (from any worker thread, serialised) after each source.
  std::function<void(const AssembleProgress&)> on_progress;
};

/// What happened to one source.
struct SourceAssembly {
  std::uint8_t source_id = 0;
  std::filesystem::path archive;
  std::uint64_t entries = 0;       ///< members of the new archive
  std::uint64_t from_archive = 0;  ///< of which came from the previous archive
  std::uint64_t from_record_files = 0;
  std::uint64_t from_npy_files = 0;
  std::uint64_t duplicates = 0;       ///< entries whose (source, time) equals the previous one's; kept
  std::vector<std::string> problems;  ///< damaged inputs (file and offset), kept data is valid
  bool failed = false;                ///< nothing was changed for this source
};

struct AssembleReport {
  std::vector<SourceAssembly> sources;
  std::uint64_t entries = 0;
  std::uint64_t duplicates = 0;
  /// True when no source failed and no input was damaged.
  [[nodiscard]] bool clean() const noexcept;
};

/// Assembles every source found in `log_dir`.
/// @throws NotFoundError (no such directory); Error (the directory is locked
///         by a running logger); CorruptDataError (strict mode, naming the file
///         and offset). Other per-source failures (disk full, a damaged
///         archive) mark that source `failed`, leave its inputs untouched, and
///         are listed in its `problems`.
AssembleReport assemble_log_archives(const std::filesystem::path& log_dir, const AssembleOptions& options = {});

}  // namespace shmkit
