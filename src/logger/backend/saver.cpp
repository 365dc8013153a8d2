#include "logger/backend/saver.hpp"

#include <shmkit/core/error.hpp>
#include <shmkit/core/process.hpp>
#include <shmkit/logger/record_file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <system_error>

#include "core/detail/file_io.hpp"
#include "logger/backend/checksum.hpp"
#include "logger/backend/log_directory.hpp"

namespace shmkit::detail {

namespace {

// Most ring bytes consumed from one ring per pass, so one busy writer cannot
// starve the others.
constexpr std::uint64_t kPassBudget = std::uint64_t{4} << 20;

WriterSlotState state_of(const RingHeader& h) noexcept {
  return static_cast<WriterSlotState>(h.state.load(std::memory_order_acquire));
}

// Header of a spill file; the chunks taken so far follow at kSpillDataOffset.
// Host byte order: only a logger on the same machine reads it back.
struct SpillHeader {
  char magic[8];
  std::uint64_t generation;  // of the writer slot the entry came from
  std::uint64_t time;
  std::uint64_t first_pos;  // ring position of the entry's first chunk
  std::uint64_t ring_end;   // ring position after the last chunk in the file
  std::uint32_t total;
  std::uint32_t have;  // payload bytes in the file
  std::uint8_t source;
  std::uint8_t reserved[7];
};
static_assert(sizeof(SpillHeader) == 56 && std::is_trivially_copyable_v<SpillHeader>);
constexpr char kSpillMagic[8] = {'S', 'H', 'M', 'K', 'S', 'P', 'L', '1'};
constexpr off_t kSpillDataOffset = 64;

std::filesystem::path spill_path(const std::filesystem::path& dir, std::uint32_t slot) {
  return dir / (".spill-" + std::to_string(slot));
}

void write_spill(int fd, const void* data, std::size_t size, off_t offset, const std::filesystem::path& path) {
  if (const int err = pwrite_all(fd, data, size, offset); err != 0) {
    throw Error("cannot write the spill file '" + path.string() + "': " + std::strerror(err),
                std::error_code(err, std::generic_category()));
  }
}

}  // namespace

Saver::Saver(const LoggerSegment& segment, std::filesystem::path dir, const DataLoggerOptions& options,
             std::uint32_t session, SaverCounters& counters, LogSink* sink)
    : segment_(segment),
      dir_(std::move(dir)),
      options_(options),
      session_(session),
      counters_(counters),
      sink_(sink),
      slots_(segment.max_writers()),
      pending_tail_(segment.max_writers()) {
  for (std::uint32_t slot = 0; slot < segment.max_writers(); ++slot) {
    slots_[slot].generation = segment.ring(slot).header->generation.load(std::memory_order_acquire);
    resume_from_spill(slot);
  }
}

Saver::~Saver() {
  for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
    const int fd = slots_[slot].spill_fd;
    if (fd < 0) {
      continue;
    }
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size == 0) {
      ::unlink(spill_path(dir_, slot).c_str());  // nothing half-done: no file left behind
    }
    ::close(fd);
  }
}

void Saver::spill(std::uint32_t slot, const Staging& st, std::size_t chunk_offset, std::uint64_t ring_end) {
  SlotState& ss = slots_[slot];
  const auto path = spill_path(dir_, slot);
  if (ss.spill_fd < 0) {
    ss.spill_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (ss.spill_fd < 0) {
      throw Error("cannot open the spill file '" + path.string() + "': " + std::strerror(errno),
                  std::error_code(errno, std::generic_category()));
    }
  }
  // Data first, then the header that vouches for it: a crash in between
  // leaves the previous, still valid header.
  write_spill(ss.spill_fd, st.bytes.data() + chunk_offset, st.bytes.size() - chunk_offset,
              kSpillDataOffset + static_cast<off_t>(chunk_offset), path);
  SpillHeader header{};
  std::memcpy(header.magic, kSpillMagic, sizeof kSpillMagic);
  header.generation = ss.generation;
  header.time = st.time;
  header.first_pos = st.first_pos;
  header.ring_end = ring_end;
  header.total = st.total;
  header.have = static_cast<std::uint32_t>(st.bytes.size());
  header.source = st.source;
  write_spill(ss.spill_fd, &header, sizeof header, 0, path);
}

void Saver::clear_spill(std::uint32_t slot) noexcept {
  SlotState& ss = slots_[slot];
  ss.clear_spill = false;
  if (ss.spill_fd >= 0) {
    (void)::ftruncate(ss.spill_fd, 0);
  }
}

void Saver::resume_from_spill(std::uint32_t slot) {
  SlotState& ss = slots_[slot];
  ss.staging = {};
  ss.skip_until = 0;
  ss.clear_spill = false;
  if (ss.spill_fd < 0) {
    ss.spill_fd = ::open(spill_path(dir_, slot).c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (ss.spill_fd < 0) {
      return;  // no spill file: nothing was half-done
    }
  }
  SpillHeader header{};
  if (pread_all(ss.spill_fd, &header, sizeof header, 0) != 0 || std::memcmp(header.magic, kSpillMagic, 8) != 0) {
    return;  // empty (cleared) spill
  }
  const RingHeader& h = *segment_.ring(slot).header;
  const std::uint64_t tail = h.tail.load(std::memory_order_acquire);
  if (header.generation != ss.generation || state_of(h) == WriterSlotState::free) {
    discard_partial(slot);  // its writer is gone
    return;
  }
  if (tail <= header.first_pos) {
    clear_spill(slot);  // every chunk is still in the ring: it is read again from there
    return;
  }
  Staging& st = ss.staging;
  st.bytes.resize(header.have);
  if (pread_all(ss.spill_fd, st.bytes.data(), header.have, kSpillDataOffset) != 0) {
    counters_.discarded_partial.fetch_add(1, std::memory_order_relaxed);
    report("spill file '" + spill_path(dir_, slot).string() +
           "' is shorter than its header says; the entry of source " + std::to_string(header.source) + " at time " +
           std::to_string(header.time) + " is lost");
    ss.staging = {};
    clear_spill(slot);
    return;
  }
  st.active = true;
  st.source = header.source;
  st.time = header.time;
  st.total = header.total;
  st.first_pos = header.first_pos;
  // Chunks in [tail, ring_end) are in the spill already; they are skipped.
  ss.skip_until = tail < header.ring_end ? header.ring_end : 0;
  if (header.have == header.total) {
    if (ss.skip_until != 0) {
      // Complete, but its ring space was never released, so the record may
      // not have reached the file: save it again (a possible duplicate is
      // kept and reported by assembly, never a loss).
      write_entry(slot, st.first_pos, st.source, st.time, st.bytes.data(), st.bytes.size(), nullptr, 0);
      ss.clear_spill = true;
    } else {
      clear_spill(slot);
    }
    ss.staging = {};
  }
}

void Saver::report(const std::string& message) noexcept {
  counters_.errors.fetch_add(1, std::memory_order_relaxed);
  try {
    if (options_.on_error) {
      options_.on_error(message);
    } else {
      std::cerr << "shmkit logger '" << segment_.instance() << "': " << message << std::endl;
    }
  } catch (...) {
  }
}

Saver::SourceFile& Saver::file_for(std::uint8_t source, std::uint64_t time) {
  auto& file = files_[source];
  // A time going backwards starts a new run, so every record file is sorted
  // and assembly can merge files without sorting them.
  if (file && time < file->last_time) {
    file->out.close();
    file.reset();
  }
  if (!file) {
    auto fresh = std::make_unique<SourceFile>();
    const auto path = dir_ / record_file_name(source, session_, runs_[source]++);
    fresh->out = OutputFile(path, OutputFile::Mode::exclusive, options_.file_buffer_bytes);
    std::array<std::byte, kRecordFileHeaderBytes> header{};
    encode_record_file_header(source, header);
    fresh->out.write(header);
    file = std::move(fresh);
    created_file_since_sync_ = true;
    counters_.files_created.fetch_add(1, std::memory_order_relaxed);
  }
  return *file;
}

void Saver::write_entry(std::uint32_t slot, std::uint64_t pos, std::uint8_t source, std::uint64_t time,
                        const std::byte* a, std::size_t a_size, const std::byte* b, std::size_t b_size) {
  if (sink_ != nullptr) {
    LogSinkEntry entry;
    entry.ring = {segment_.trailer().tag.created_unix_ns, slot, slots_[slot].generation, pos};
    entry.source_id = source;
    entry.acquisition_time = time;
    entry.first = {a, a_size};
    entry.second = {b, b_size};
    sink_->write(entry);
    counters_.entries_saved.fetch_add(1, std::memory_order_relaxed);
    counters_.bytes_saved.fetch_add(a_size + b_size, std::memory_order_relaxed);
    return;
  }
  SourceFile& file = file_for(source, time);
  std::array<std::byte, kRecordFrameHeaderBytes> header{};
  const std::size_t length = a_size + b_size;
  // encode_record_frame_header only reads the payload's size.
  encode_record_frame_header(LogPackage{source, time, std::span<const std::byte>(a, length)}, header);
  std::uint32_t crc = crc32(0, header.data(), header.size());
  crc = crc32(crc, a, a_size);
  crc = crc32(crc, b, b_size);
  std::byte trailer[4];
  for (int i = 0; i < 4; ++i) {
    trailer[i] = std::byte(static_cast<unsigned char>(crc >> (8 * i)));
  }
  file.out.write(header);
  file.out.write(a, a_size);
  file.out.write(b, b_size);
  file.out.write(trailer, 4);
  file.last_time = time;
  file.dirty = true;
  counters_.entries_saved.fetch_add(1, std::memory_order_relaxed);
  counters_.bytes_saved.fetch_add(length, std::memory_order_relaxed);
}

void Saver::discard_partial(std::uint32_t slot) noexcept {
  counters_.discarded_partial.fetch_add(1, std::memory_order_relaxed);
  clear_spill(slot);
}

void Saver::adopt_writer(std::uint32_t slot, std::uint64_t generation) noexcept {
  SlotState& ss = slots_[slot];
  if (generation == ss.generation) {
    return;
  }
  // A new writer: nothing half-assembled belongs to it.
  if (ss.staging.active) {
    discard_partial(slot);
  }
  ss.staging = {};
  ss.skip_until = 0;
  ss.generation = generation;
}

bool Saver::take_record(std::uint32_t slot, std::uint64_t pos, const RingConsumer::Record& record) {
  SlotState& ss = slots_[slot];
  const RingRecord& r = record.header;
  const auto& pieces = record.payload;
  const auto kind = static_cast<RingRecordKind>(r.kind);
  Staging& st = ss.staging;
  if ((kind == RingRecordKind::whole || kind == RingRecordKind::first) && st.active) {
    // The writer gave up on its previous chunked entry.
    st.active = false;
    discard_partial(slot);
  }
  if (kind == RingRecordKind::whole) {
    write_entry(slot, pos, r.source_id, r.acquisition_time, pieces.first, pieces.first_size, pieces.second,
                pieces.second_size);
    return true;
  }
  if (kind == RingRecordKind::first) {
    st.active = true;
    st.source = r.source_id;
    st.time = r.acquisition_time;
    st.total = r.total_bytes;
    st.first_pos = pos;
    st.bytes.clear();
    st.bytes.reserve(r.total_bytes);
  }
  if (!st.active || st.source != r.source_id || st.time != r.acquisition_time ||
      st.bytes.size() + r.chunk_bytes > st.total) {
    // A chunk that does not continue the entry being assembled: the rest of
    // an entry whose start a dead logger consumed, or a mismatch. Either way
    // the entry cannot be completed.
    if (st.active || kind == RingRecordKind::last) {
      discard_partial(slot);
    }
    st.active = false;
    return false;
  }
  const std::size_t chunk_offset = st.bytes.size();
  st.bytes.insert(st.bytes.end(), pieces.first, pieces.first + pieces.first_size);
  st.bytes.insert(st.bytes.end(), pieces.second, pieces.second + pieces.second_size);
  // In the spill before this chunk's ring space is released.
  spill(slot, st, chunk_offset, pos + record.size);
  if (kind != RingRecordKind::last) {
    return false;
  }
  bool saved = false;
  if (st.bytes.size() == st.total) {
    write_entry(slot, st.first_pos, st.source, st.time, st.bytes.data(), st.bytes.size(), nullptr, 0);
    saved = true;
    ss.clear_spill = true;
  } else {
    discard_partial(slot);
  }
  st.active = false;
  st.bytes.clear();
  if (st.bytes.capacity() > (std::size_t{64} << 20)) {
    st.bytes.shrink_to_fit();
  }
  return saved;
}

std::uint64_t Saver::drain_ring(std::uint32_t slot) {
  const RingConsumer ring(segment_.ring(slot));
  RingHeader& h = *ring.view().header;
  pending_tail_[slot] = 0;
  if (state_of(h) == WriterSlotState::free) {
    return 0;
  }
  adopt_writer(slot, h.generation.load(std::memory_order_acquire));
  SlotState& ss = slots_[slot];
  const std::uint64_t start = ring.tail();
  const std::uint64_t head = ring.head();
  std::uint64_t tail = start;
  std::uint64_t saved = 0;
  while (tail != head && tail - start < kPassBudget) {
    RingConsumer::Record record{};
    if (!ring.read(tail, head, record)) {
      report("ring of writer slot " + std::to_string(slot) + " (pid " + std::to_string(h.owner_pid) +
             ") holds a malformed record at ring offset " + std::to_string(tail) + "; its remaining " +
             std::to_string(head - tail) + " bytes are discarded");
      tail = head;
      ss.staging = {};
      ss.skip_until = 0;
      clear_spill(slot);
      break;
    }
    if (ss.skip_until != 0) {
      if (tail < ss.skip_until) {  // a chunk a previous saver already put in the spill
        tail += record.size;
        continue;
      }
      ss.skip_until = 0;
    }
    if (ss.clear_spill && tail != start) {
      // An entry resumed from the spill was saved again and its chunks
      // skipped: end the pass before the next record, or a next chunked
      // entry would start in the spill that release_drained() then clears.
      break;
    }
    saved += take_record(slot, tail, record) ? 1 : 0;
    tail += record.size;
    if (ss.clear_spill) {
      // End this ring's pass: the spill may only be cleared (and reused by
      // the next entry) after this entry's record is flushed and its ring
      // space released, in release_drained().
      break;
    }
  }
  if (tail != start) {
    pending_tail_[slot] = tail;
    h.saved.store(h.saved.load(std::memory_order_relaxed) + saved, std::memory_order_relaxed);
  }
  return tail - start;
}

void Saver::release_drained() {
  // The bytes must be in the page cache (and on disk under `always`) before
  // the ring space is released: a logger killed after this point loses nothing.
  // A sink says so by returning from commit.
  if (sink_ != nullptr) {
    sink_->commit();
  }
  for (auto& file : files_) {
    if (file && file->dirty) {
      file->out.flush();
    }
  }
  if (options_.fsync == FsyncPolicy::always) {
    sync_files();
  }
  for (std::uint32_t slot = 0; slot < segment_.max_writers(); ++slot) {
    if (pending_tail_[slot] == 0) {
      continue;
    }
    RingConsumer(segment_.ring(slot)).release(pending_tail_[slot]);
    if (slots_[slot].clear_spill) {
      clear_spill(slot);
    }
  }
}

std::uint64_t Saver::drain_once() {
  std::uint64_t consumed = 0;
  for (std::uint32_t slot = 0; slot < segment_.max_writers(); ++slot) {
    consumed += drain_ring(slot);
  }
  if (consumed != 0) {
    release_drained();
  }
  return consumed;
}

void Saver::free_slot(std::uint32_t slot) noexcept {
  RingHeader& h = *segment_.ring(slot).header;
  counters_.dropped_departed.fetch_add(h.dropped.load(std::memory_order_relaxed), std::memory_order_relaxed);
  if (slots_[slot].staging.active) {
    counters_.discarded_partial.fetch_add(1, std::memory_order_relaxed);
  }
  slots_[slot].staging = {};
  slots_[slot].skip_until = 0;
  clear_spill(slot);
  h.dropped.store(0, std::memory_order_relaxed);
  h.logged.store(0, std::memory_order_relaxed);
  h.saved.store(0, std::memory_order_relaxed);
  h.owner_pid = 0;
  h.owner_start_ticks = 0;
  h.state.store(static_cast<std::uint32_t>(WriterSlotState::free), std::memory_order_release);
}

void Saver::reap_dead_writers() {
  for (std::uint32_t slot = 0; slot < segment_.max_writers(); ++slot) {
    RingHeader& h = *segment_.ring(slot).header;
    const WriterSlotState state = state_of(h);
    if (state != WriterSlotState::active && state != WriterSlotState::closed) {
      continue;
    }
    const bool gone = state == WriterSlotState::closed ||
                      !is_alive(ProcessIdentity{static_cast<pid_t>(h.owner_pid), h.owner_start_ticks});
    // Only an empty ring is freed: the writer's complete entries are saved first.
    if (gone && h.tail.load(std::memory_order_relaxed) == h.head.load(std::memory_order_acquire)) {
      free_slot(slot);
    }
  }
}

void Saver::sync_files() {
  for (auto& file : files_) {
    if (file && file->dirty) {
      file->out.sync();
      file->dirty = false;
    }
  }
  if (created_file_since_sync_) {
    sync_directory(dir_);
    created_file_since_sync_ = false;
  }
}

void Saver::close_files() {
  sync_files();
  for (auto& file : files_) {
    if (file) {
      file->out.close();
      file.reset();
    }
  }
}

void Saver::abandon_files() noexcept {
  for (auto& file : files_) {
    file.reset();
  }
  if (sink_ != nullptr) {
    sink_->abandon();
  }
  // The failed pass released no ring space, but it advanced the reassembly
  // of chunked entries: restart each from its spill file, which is
  // consistent with the rings by construction.
  for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
    try {
      resume_from_spill(slot);
    } catch (...) {
      slots_[slot].staging = {};
    }
  }
}

}  // namespace shmkit::detail
