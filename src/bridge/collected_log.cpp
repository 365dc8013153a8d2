#include "bridge/collected_log.hpp"

#include <shmkit/core/error.hpp>
#include <shmkit/logger/log_package.hpp>
#include <shmkit/logger/record_file.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "core/detail/file_io.hpp"
#include "logger/backend/checksum.hpp"

namespace shmkit::detail {

namespace {

constexpr const char kStateMagic[] = "shmkit-collect-state 1";

}  // namespace

CollectedLog::CollectedLog(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    throw Error("cannot create the log directory '" + dir_.string() + "': " + ec.message(), ec);
  }
  lock_ = DirectoryLock::try_acquire(dir_);
  if (!lock_) {
    throw Error("cannot collect into '" + dir_.string() +
                "': it is locked by a logger, another collector or an assembly in progress");
  }
  recover();
  session_ = next_session(dir_);
}

void CollectedLog::recover() {
  const auto state_path = dir_ / kCollectStateName;
  std::ifstream in(state_path);
  if (in) {
    std::string line;
    std::getline(in, line);
    if (line != kStateMagic) {
      throw CorruptDataError("collector state '" + state_path.string() + "' is not a collector state file");
    }
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string kind;
      fields >> kind;
      if (kind == "mark") {
        unsigned source = 0;
        std::uint64_t sequence = 0;
        if (fields >> source >> sequence && source < 256) {
          marks_[source] = sequence;
        }
      } else if (kind == "epoch") {
        fields >> epoch_;
      } else if (kind == "file") {
        std::string name;
        std::uint64_t length = 0;
        if (fields >> name >> length) {
          lengths_[name] = length;
        }
      }
    }
  }
  // Files past the last commit hold entries Redis delivers again: cut them.
  for (const auto& item : std::filesystem::directory_iterator(dir_)) {
    const std::string name = item.path().filename().string();
    const auto parsed = parse_record_file_name(name);
    if (!parsed || !parsed->pending) {
      continue;
    }
    const auto known = lengths_.find(name);
    if (known == lengths_.end()) {
      std::filesystem::remove(item.path());
    } else if (std::filesystem::file_size(item.path()) > known->second) {
      std::filesystem::resize_file(item.path(), known->second);
    }
  }
}

CollectedLog::Outcome CollectedLog::append(std::uint8_t source, std::uint64_t sequence, std::uint64_t time,
                                           std::span<const std::byte> payload) {
  if (sequence <= marks_[source]) {
    return Outcome::duplicate;
  }
  const bool gap = sequence != marks_[source] + 1;
  auto& file = files_[source];
  if (file && time < file->last_time) {
    // As the saver does: a time going backwards starts a new run, so every
    // record file stays sorted.
    file->out.flush();
    lengths_[file->name] = file->out.offset();
    file->out.sync();
    file->out.close();
    file.reset();
  }
  if (!file) {
    auto fresh = std::make_unique<Source>();
    fresh->name = record_file_name(source, session_, runs_[source]++);
    fresh->out = OutputFile(dir_ / fresh->name, OutputFile::Mode::exclusive);
    std::array<std::byte, kRecordFileHeaderBytes> header{};
    encode_record_file_header(source, header);
    fresh->out.write(header);
    file = std::move(fresh);
    new_file_ = true;
  }
  std::array<std::byte, kRecordFrameHeaderBytes> header{};
  encode_record_frame_header(LogPackage{source, time, payload}, header);
  std::uint32_t crc = crc32(0, header.data(), header.size());
  crc = crc32(crc, payload.data(), payload.size());
  std::byte trailer[4];
  for (int i = 0; i < 4; ++i) {
    trailer[i] = std::byte(static_cast<unsigned char>(crc >> (8 * i)));
  }
  file->out.write(header);
  file->out.write(payload);
  file->out.write(trailer, 4);
  file->last_time = time;
  file->dirty = true;
  marks_[source] = sequence;
  changed_ = true;
  return gap ? Outcome::gap : Outcome::written;
}

bool CollectedLog::adopt_epoch(std::string_view epoch) {
  if (epoch == epoch_) {
    return false;
  }
  const bool reset = !epoch_.empty();
  if (reset) {
    marks_.fill(0);
  }
  epoch_ = std::string(epoch);
  changed_ = true;
  return reset;
}

void CollectedLog::commit() {
  if (!changed_) {
    return;
  }
  for (auto& file : files_) {
    if (file && file->dirty) {
      file->out.sync();
      file->dirty = false;
      lengths_[file->name] = file->out.offset();
    }
  }
  if (new_file_) {
    sync_directory(dir_);
    new_file_ = false;
  }
  std::string state = std::string(kStateMagic) + "\n";
  if (!epoch_.empty()) {
    state += "epoch " + epoch_ + "\n";
  }
  for (unsigned source = 0; source < 256; ++source) {
    if (marks_[source] != 0) {
      state += "mark " + std::to_string(source) + " " + std::to_string(marks_[source]) + "\n";
    }
  }
  for (const auto& [name, length] : lengths_) {
    state += "file " + name + " " + std::to_string(length) + "\n";
  }
  atomic_write_file(dir_ / kCollectStateName, state, "collector state");
  changed_ = false;
}

}  // namespace shmkit::detail
