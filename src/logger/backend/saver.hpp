#pragma once
// The saver: everything slow of the logger. It drains each writer's ring
// into per-source record files, reassembles chunked entries, releases ring
// space only after the bytes are in the page cache, and frees the slots of
// writers that left or died. Used by one thread at a time.
//
// Chunked entries (payloads above a quarter of the ring) must release ring
// space before they are complete, so the chunks taken so far are also
// written to a spill file per slot (`.spill-<slot>` in the log directory)
// before their ring space is released. A saver that starts after a crash or
// a stop() resumes a half-reassembled entry from its spill file, so an
// entry its writer completed is never lost.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include <shmkit/logger/log_sink.hpp>
#include <shmkit/logger/options.hpp>

#include "logger/backend/file_io.hpp"
#include "logger/ring/byte_ring.hpp"
#include "logger/ring/logger_segment.hpp"

namespace shmkit::detail {

/// Counters shared between the saver thread and DataLogger::stats().
struct SaverCounters {
  std::atomic<std::uint64_t> entries_saved{0};
  std::atomic<std::uint64_t> bytes_saved{0};
  std::atomic<std::uint64_t> dropped_departed{0};  // drops of writers whose slots were freed
  std::atomic<std::uint64_t> discarded_partial{0};
  std::atomic<std::uint64_t> files_created{0};
  std::atomic<std::uint64_t> errors{0};
};

class Saver {
 public:
  /// Resumes half-reassembled entries from the spill files a previous saver left.
  /// With a `sink`, complete entries go to it instead of record files (`dir`
  /// then holds only the spill files), and ring space is released after
  /// the sink's commit.
  Saver(const LoggerSegment& segment, std::filesystem::path dir, const DataLoggerOptions& options,
        std::uint32_t session, SaverCounters& counters, LogSink* sink = nullptr);
  Saver(const Saver&) = delete;
  Saver& operator=(const Saver&) = delete;
  ~Saver();

  /// One pass over every ring: copy complete entries to the files, write(2)
  /// them, then release the ring space. Returns the ring bytes consumed.
  /// @throws Error on I/O failure (ring space is then not released).
  std::uint64_t drain_once();

  /// Frees slots whose writer died; called every reap_interval.
  void reap_dead_writers();

  /// fdatasync every file written since the last sync.
  void sync_files();
  /// Flush, sync and close every file (the end of a session).
  void close_files();
  /// After an I/O error: abandon the open files (they may end in a torn
  /// frame, which assembly reports) and continue in new run files.
  void abandon_files() noexcept;

 private:
  struct SourceFile {
    OutputFile out;
    std::uint64_t last_time = 0;
    bool dirty = false;
  };
  struct Staging {  // a chunked entry being reassembled
    bool active = false;
    std::uint8_t source = 0;
    std::uint64_t time = 0;
    std::uint32_t total = 0;
    std::uint64_t first_pos = 0;  // ring position of its first chunk
    std::vector<std::byte> bytes;
  };
  struct SlotState {
    Staging staging;
    std::uint64_t generation = 0;
    int spill_fd = -1;
    bool clear_spill = false;      // the spilled entry was saved: clear the spill once its ring space is released
    std::uint64_t skip_until = 0;  // ring records before this position are already in the spill
  };

  SourceFile& file_for(std::uint8_t source, std::uint64_t time);
  // `slot` and `pos` say where the entry's first record sat in the rings (for a sink).
  void write_entry(std::uint32_t slot, std::uint64_t pos, std::uint8_t source, std::uint64_t time, const std::byte* a,
                   std::size_t a_size, const std::byte* b, std::size_t b_size);
  void free_slot(std::uint32_t slot) noexcept;

  // One pass of drain_once(), by job: read one ring's records (returning
  // the ring bytes taken, its new tail kept in pending_tail_), hand each record to the files or to the chunk
  // reassembly (returning whether it completed an entry), then release the
  // space of every ring once the files hold its bytes.
  std::uint64_t drain_ring(std::uint32_t slot);
  bool take_record(std::uint32_t slot, std::uint64_t pos, const RingConsumer::Record& record);
  void release_drained();
  // Bookkeeping: a new writer in a slot drops what the old one left half
  // done; a partial entry that cannot be completed is counted and its spill cleared.
  void adopt_writer(std::uint32_t slot, std::uint64_t generation) noexcept;
  void discard_partial(std::uint32_t slot) noexcept;
  void spill(std::uint32_t slot, const Staging& st, std::size_t chunk_offset, std::uint64_t ring_end);
  void clear_spill(std::uint32_t slot) noexcept;
  void resume_from_spill(std::uint32_t slot);
  void report(const std::string& message) noexcept;

  const LoggerSegment& segment_;
  std::filesystem::path dir_;
  const DataLoggerOptions& options_;
  std::uint32_t session_;
  SaverCounters& counters_;
  LogSink* sink_;
  std::array<std::unique_ptr<SourceFile>, 256> files_{};
  std::array<std::uint32_t, 256> runs_{};
  std::vector<SlotState> slots_;
  std::vector<std::uint64_t> pending_tail_;
  bool created_file_since_sync_ = false;
};

}  // namespace shmkit::detail
