#include <shmkit/core/error.hpp>
#include <shmkit/logger/assemble.hpp>
#include <shmkit/logger/log_package.hpp>
#include <shmkit/logger/npz_writer.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <mutex>
#include <queue>
#include <thread>

#include "logger/archive/entry_sources.hpp"
#include "logger/backend/checksum.hpp"
#include "logger/backend/file_io.hpp"
#include "logger/backend/log_directory.hpp"

namespace shmkit {

bool AssembleReport::clean() const noexcept {
  return std::all_of(sources.begin(), sources.end(),
                     [](const SourceAssembly& s) { return !s.failed && s.problems.empty(); });
}

namespace {

namespace fs = std::filesystem;

struct SourceInputs {
  std::uint8_t source = 0;
  std::vector<fs::path> record_files;  // pending, in (session, run) order
  std::vector<fs::path> npy_files;     // in time order
};

std::map<std::uint8_t, SourceInputs> discover(const fs::path& dir) {
  std::map<std::uint8_t, SourceInputs> found;
  for (const auto& item : fs::directory_iterator(dir)) {
    if (!item.is_regular_file()) {
      continue;
    }
    const std::string name = item.path().filename().string();
    std::uint8_t source = 0;
    std::uint64_t time = 0;
    if (const auto record = detail::parse_record_file_name(name); record && record->pending) {
      found[record->source].source = record->source;
      found[record->source].record_files.push_back(item.path());
    } else if (detail::parse_entry_file_name(name, source, time)) {
      found[source].source = source;
      found[source].npy_files.push_back(item.path());
    } else if (name.size() > 8 && name.substr(name.size() - 8) == "_log.npz") {
      const std::string digits = name.substr(0, name.size() - 8);
      if (!digits.empty() && digits.size() <= 3 && std::all_of(digits.begin(), digits.end(), ::isdigit) &&
          std::stoi(digits) <= 255) {
        found[static_cast<std::uint8_t>(std::stoi(digits))].source = static_cast<std::uint8_t>(std::stoi(digits));
      }
    }
  }
  for (auto& [source, inputs] : found) {
    std::sort(inputs.record_files.begin(), inputs.record_files.end());  // zero-padded: name order = (session, run)
    std::sort(inputs.npy_files.begin(), inputs.npy_files.end());        // zero-padded: name order = time
  }
  return found;
}

// Order-sensitive digest of what an archive holds, for verification.
struct Digest {
  std::uint64_t count = 0;
  std::uint64_t hash = 0x243F6A8885A308D3ULL;
  void add(const LogEntry& e) noexcept {
    const std::uint32_t crc = detail::crc32(0, e.payload.data(), e.payload.size());
    for (const std::uint64_t v : {std::uint64_t{e.source_id}, e.acquisition_time, std::uint64_t{crc},
                                  static_cast<std::uint64_t>(e.payload.size())}) {
      hash = (hash ^ v) * 0x100000001B3ULL;
      hash ^= hash >> 29;
    }
    ++count;
  }
  bool operator==(const Digest&) const = default;
};

enum class InputKind { archive, record_file, npy_files };

struct Input {
  InputKind kind;
  fs::path file;  // record file or archive
  std::unique_ptr<detail::EntrySource> stream;
  LogEntry current;
  bool has = false;
  bool damaged = false;
  std::uint64_t taken = 0;
};

class SourceAssembler {
 public:
  SourceAssembler(const fs::path& dir, const SourceInputs& inputs, const AssembleOptions& options)
      : dir_(dir), inputs_(inputs), options_(options) {
    result_.source_id = inputs.source;
    result_.archive = dir / archive_name(inputs.source);
  }

  SourceAssembly run() {
    const fs::path tmp = result_.archive.string() + ".tmp";
    try {
      open_inputs();
      if (inputs_.record_files.empty() && inputs_.npy_files.empty()) {
        // Nothing new: the archive stays as it is.
        result_.entries = fs::exists(result_.archive) ? LogArchiveReader(result_.archive).entry_count() : 0;
        return result_;
      }
      const Digest written = merge_into(tmp);
      if (written.count > 0 || fs::exists(result_.archive)) {
        if (options_.verify) {
          verify(tmp, written);
        }
        fs::rename(tmp, result_.archive);
        detail::sync_directory(dir_);
      } else {
        fs::remove(tmp);
      }
      dispose_inputs();
    } catch (const CorruptDataError& e) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      if (options_.strict) {
        throw;
      }
      result_.failed = true;
      result_.problems.push_back(e.what());
    } catch (const std::exception& e) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      result_.failed = true;
      result_.problems.push_back(e.what());
    }
    return result_;
  }

 private:
  void open_inputs() {
    if (fs::exists(result_.archive)) {
      add(InputKind::archive, result_.archive,
          [&] { return std::make_unique<detail::ArchiveSource>(result_.archive); });
    }
    for (const auto& file : inputs_.record_files) {
      add(InputKind::record_file, file, [&] { return std::make_unique<detail::RecordFileSource>(file); });
    }
    if (!inputs_.npy_files.empty()) {
      add(InputKind::npy_files, {}, [&] { return std::make_unique<detail::NpyFilesSource>(inputs_.npy_files); });
    }
  }

  template <typename Open>
  void add(InputKind kind, const fs::path& file, Open open) {
    auto input = std::make_unique<Input>();
    input->kind = kind;
    input->file = file;
    try {
      input->stream = open();
    } catch (const CorruptDataError& e) {
      if (kind != InputKind::record_file || options_.strict) {
        throw;  // a damaged archive or .npy file fails the source; nothing is changed
      }
      result_.problems.push_back(e.what());
      input->damaged = true;
    }
    inputs.push_back(std::move(input));
  }

  void advance(Input& input) {
    if (!input.stream) {
      input.has = false;
      return;
    }
    const std::uint64_t previous = input.current.acquisition_time;
    try {
      input.has = input.stream->next(input.current);
    } catch (const CorruptDataError& e) {
      if (input.kind != InputKind::record_file || options_.strict) {
        throw;
      }
      // A torn or damaged record file: keep what came before, report the rest.
      result_.problems.push_back(e.what());
      input.damaged = true;
      input.has = false;
      return;
    }
    if (input.has && input.taken > 0 && input.current.acquisition_time < previous) {
      throw CorruptDataError(input.stream->describe() + " is not sorted by acquisition time (time " +
                             std::to_string(input.current.acquisition_time) + " after " + std::to_string(previous) +
                             ")");
    }
  }

  Digest merge_into(const fs::path& tmp) {
    NpzWriter writer(tmp, NpzWriterOptions{options_.compression_level, options_.force_zip64});
    using Key = std::pair<std::uint64_t, std::size_t>;  // (time, input index): ties keep input order
    std::priority_queue<Key, std::vector<Key>, std::greater<>> heap;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      advance(*inputs[i]);
      if (inputs[i]->has) {
        heap.emplace(inputs[i]->current.acquisition_time, i);
      }
    }
    Digest digest;
    bool any = false;
    std::uint64_t last_time = 0;
    while (!heap.empty()) {
      const auto [time, index] = heap.top();
      heap.pop();
      Input& input = *inputs[index];
      LogEntry& e = input.current;
      if (e.source_id != inputs_.source) {
        throw CorruptDataError(input.stream->describe() + " holds an entry of source " + std::to_string(e.source_id) +
                               " among the entries of source " + std::to_string(inputs_.source));
      }
      if (any && time == last_time) {
        ++result_.duplicates;
      }
      writer.add_entry(e.source_id, e.acquisition_time, e.payload);
      digest.add(e);
      any = true;
      last_time = time;
      ++input.taken;
      switch (input.kind) {
        case InputKind::archive:
          ++result_.from_archive;
          break;
        case InputKind::record_file:
          ++result_.from_record_files;
          break;
        case InputKind::npy_files:
          ++result_.from_npy_files;
          break;
      }
      advance(input);
      if (input.has) {
        heap.emplace(input.current.acquisition_time, index);
      }
    }
    writer.finish(/*sync=*/true);
    result_.entries = digest.count;
    return digest;
  }

  void verify(const fs::path& tmp, const Digest& written) const {
    LogArchiveReader reader(tmp);
    auto cursor = reader.entries();
    LogEntry entry;
    Digest read;
    while (cursor.next(entry)) {
      read.add(entry);
    }
    if (!(read == written)) {
      throw Error("verification of '" + tmp.string() + "' failed: it reads back " + std::to_string(read.count) +
                  " entries, " + std::to_string(written.count) + " were written, or their contents differ");
    }
  }

  void dispose(const fs::path& file, bool damaged) const {
    if (damaged) {
      fs::rename(file, file.string() + detail::kDamagedSuffix);
    } else if (options_.remove_sources) {
      fs::remove(file);
    } else {
      fs::rename(file, file.string() + detail::kAssembledSuffix);
    }
  }

  void dispose_inputs() const {
    for (const auto& input : inputs) {
      if (input->kind == InputKind::record_file) {
        dispose(input->file, input->damaged);
      }
    }
    for (const auto& file : inputs_.npy_files) {
      dispose(file, false);
    }
    detail::sync_directory(dir_);
  }

  const fs::path& dir_;
  const SourceInputs& inputs_;
  const AssembleOptions& options_;
  SourceAssembly result_;
  std::vector<std::unique_ptr<Input>> inputs;
};

}  // namespace

AssembleReport assemble_log_archives(const fs::path& log_dir, const AssembleOptions& options) {
  if (!fs::is_directory(log_dir)) {
    throw NotFoundError("cannot assemble '" + log_dir.string() + "': no such directory");
  }
  const auto lock = detail::DirectoryLock::try_acquire(log_dir);
  if (!lock) {
    throw Error("cannot assemble '" + log_dir.string() +
                "': a logger is running on it (or another assembly is in progress); stop the logger first");
  }
  const auto found = discover(log_dir);
  std::vector<const SourceInputs*> work;
  for (const auto& [source, inputs] : found) {
    work.push_back(&inputs);
  }
  AssembleReport report;
  report.sources.resize(work.size());
  std::atomic<std::size_t> next{0};
  std::mutex progress_mutex;
  AssembleProgress progress{0, static_cast<std::uint32_t>(work.size()), 0};
  std::exception_ptr failure;

  auto worker = [&] {
    for (std::size_t i = next.fetch_add(1); i < work.size(); i = next.fetch_add(1)) {
      try {
        report.sources[i] = SourceAssembler(log_dir, *work[i], options).run();
      } catch (...) {
        std::lock_guard guard(progress_mutex);
        if (!failure) {
          failure = std::current_exception();
        }
        next.store(work.size());
        return;
      }
      std::lock_guard guard(progress_mutex);
      ++progress.sources_done;
      progress.entries_written += report.sources[i].entries;
      if (options.on_progress) {
        options.on_progress(progress);
      }
    }
  };
  unsigned threads = options.threads == 0 ? std::max(1U, std::thread::hardware_concurrency()) : options.threads;
  threads = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(work.size(), 1)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  worker();
  for (auto& thread : pool) {
    thread.join();
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
  for (const auto& s : report.sources) {
    report.entries += s.entries;
    report.duplicates += s.duplicates;
  }
  return report;
}

}  // namespace shmkit
