// Assembly of log directories: numpy reads what assembly writes (stored and
// compressed), damaged record files are reported with file and offset,
// assembling again merges, ataraxis per-entry .npy files are accepted, and
// duplicate entries are kept and reported.

#include <gtest/gtest.h>
#include <libdeflate.h>

#include <fstream>
#include <sstream>

#include <shmkit/core/error.hpp>
#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/assemble.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/log_writer.hpp>
#include <shmkit/logger/record_file.hpp>

#include "logger_test_util.hpp"

namespace shmkit {
namespace {

using testing::make_payload;
using testing::run_python;
using testing::ScopedName;
using testing::TempDir;

struct Entry {
  std::uint8_t source;
  std::uint64_t time;
  std::vector<std::byte> payload;
};

/// Logs `entries` through a real logger session into `<dir>/<name>_data_log`
/// and returns that directory.
std::filesystem::path log_session(const TempDir& dir, const std::string& name, const std::vector<Entry>& entries) {
  DataLoggerOptions options;
  options.fsync = FsyncPolicy::none;
  DataLogger logger(dir.path(), name, options);
  logger.start();
  {
    auto writer = LogWriter::connect(name);
    for (const auto& e : entries) {
      EXPECT_TRUE(writer.log(e.source, e.time, e.payload));
    }
  }
  const LoggerStats stats = logger.stop();
  EXPECT_EQ(stats.entries_saved, entries.size());
  return logger.log_directory();
}

std::vector<Entry> make_entries(std::uint8_t source, std::uint64_t first_time, std::uint64_t step, std::size_t count) {
  std::vector<Entry> out;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t time = first_time + i * step;
    out.push_back({source, time, make_payload((time * 13) % 700, time + source)});
  }
  return out;
}

std::vector<LogEntry> read_archive(const std::filesystem::path& path) {
  LogArchiveReader reader(path);
  auto cursor = reader.entries();
  std::vector<LogEntry> out;
  LogEntry entry;
  while (cursor.next(entry)) {
    out.push_back(entry);
  }
  return out;
}

void expect_same(const std::vector<LogEntry>& got, const std::vector<Entry>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].source_id, expected[i].source) << i;
    EXPECT_EQ(got[i].acquisition_time, expected[i].time) << i;
    EXPECT_EQ(got[i].payload, expected[i].payload) << i;
  }
}

// What numpy should print for each member: name, dtype, length, crc32 of the bytes.
std::string numpy_listing(const std::vector<Entry>& entries) {
  std::ostringstream out;
  for (const auto& e : entries) {
    std::array<std::byte, kEntryPrefixBytes> prefix{};
    encode_entry_prefix(e.source, e.time, prefix);
    std::uint32_t crc = libdeflate_crc32(0, prefix.data(), prefix.size());
    if (!e.payload.empty()) {  // libdeflate_crc32 returns 0 for a null buffer
      crc = libdeflate_crc32(crc, e.payload.data(), e.payload.size());
    }
    out << member_name(e.source, e.time) << " |u1 " << kEntryPrefixBytes + e.payload.size() << " " << crc << "\n";
  }
  return out.str();
}

constexpr const char* kNumpyListing = R"(
import sys, zipfile, zlib
import numpy as np
with np.load(sys.argv[1]) as f:
    members = zipfile.ZipFile(sys.argv[1]).namelist()
    assert [m[:-4] for m in members] == f.files, (members, f.files)
    for member in members:
        a = f[member[:-4]]
        assert a.ndim == 1
        print(member, a.dtype.str, a.shape[0], zlib.crc32(a.tobytes()))
)";

TEST(AssembleTest, NumpyLoadsStoredAndCompressedAssemblies) {
  for (const int level : {0, 6}) {
    ScopedName name("numpy");
    TempDir dir;
    auto entries = make_entries(4, 0, 1000, 300);
    const auto log_dir = log_session(dir, name.str(), entries);
    AssembleOptions options;
    options.compression_level = level;
    const AssembleReport report = assemble_log_archives(log_dir, options);
    EXPECT_TRUE(report.clean());
    EXPECT_EQ(report.entries, entries.size());
    const auto archive = log_dir / "4_log.npz";
    const auto result = run_python(dir, kNumpyListing, archive.string());
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(result.output, numpy_listing(entries)) << "level " << level;
    expect_same(read_archive(archive), entries);
    // The record file was removed once the archive was verified.
    for (const auto& item : std::filesystem::directory_iterator(log_dir)) {
      EXPECT_NE(item.path().extension(), kRecordFileExtension) << item.path();
    }
  }
}

std::filesystem::path only_record_file(const std::filesystem::path& dir) {
  for (const auto& item : std::filesystem::directory_iterator(dir)) {
    if (item.path().extension() == kRecordFileExtension) {
      return item.path();
    }
  }
  throw std::runtime_error("no record file in " + dir.string());
}

void expect_corrupt_record_file(const std::filesystem::path& file, std::uint64_t offset, const std::string& what) {
  try {
    RecordFileReader reader(file);
    LogEntry entry;
    while (reader.next(entry)) {
    }
    FAIL() << "expected CorruptDataError for " << file;
  } catch (const CorruptDataError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_NE(message.find("offset " + std::to_string(offset)), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
  }
}

TEST(AssembleTest, DamagedRecordFilesAreCorruptDataErrorsNamingFileAndOffset) {
  ScopedName name("damaged");
  TempDir dir;
  const auto entries = make_entries(2, 1, 1, 10);
  const auto log_dir = log_session(dir, name.str(), entries);
  const auto file = only_record_file(log_dir);
  // Frame i starts after the file header and the frames before it.
  std::vector<std::uint64_t> frame_offsets;
  std::uint64_t offset = kRecordFileHeaderBytes;
  for (const auto& e : entries) {
    frame_offsets.push_back(offset);
    offset += kRecordFrameHeaderBytes + e.payload.size() + kRecordFrameTrailerBytes;
  }
  ASSERT_EQ(std::filesystem::file_size(file), offset);

  const auto torn = dir / "torn.shmlog";
  std::filesystem::copy_file(file, torn);
  std::filesystem::resize_file(torn, offset - 3);  // a torn last frame
  expect_corrupt_record_file(torn, frame_offsets.back(), "torn record");

  const auto flipped = dir / "flipped.shmlog";
  std::filesystem::copy_file(file, flipped);
  {
    std::fstream f(flipped, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(frame_offsets[4] + kRecordFrameHeaderBytes + 1));  // entry 4's payload
    f.put('\x5a');
  }
  expect_corrupt_record_file(flipped, frame_offsets[4], "CRC");

  // Strict assembly throws naming the file and offset and changes nothing.
  std::filesystem::copy_file(flipped, file, std::filesystem::copy_options::overwrite_existing);
  AssembleOptions strict;
  strict.strict = true;
  EXPECT_TRUE(testing::throws_with<CorruptDataError>([&] { (void)assemble_log_archives(log_dir, strict); },
                                                     {file.string(), "offset " + std::to_string(frame_offsets[4])}));
  EXPECT_TRUE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(log_dir / "2_log.npz"));

  // The default keeps the valid prefix, reports the damage and keeps the
  // damaged file under a new name; the damaged entries are never data.
  const AssembleReport report = assemble_log_archives(log_dir);
  EXPECT_FALSE(report.clean());
  ASSERT_EQ(report.sources.size(), 1U);
  ASSERT_EQ(report.sources[0].problems.size(), 1U);
  EXPECT_NE(report.sources[0].problems[0].find("offset " + std::to_string(frame_offsets[4])), std::string::npos);
  expect_same(read_archive(log_dir / "2_log.npz"), std::vector<Entry>(entries.begin(), entries.begin() + 4));
  EXPECT_TRUE(std::filesystem::exists(file.string() + ".damaged"));
}

TEST(AssembleTest, AssemblingAgainMergesWithTheExistingArchive) {
  ScopedName name("merge");
  TempDir dir;
  const auto first = make_entries(5, 0, 10, 50);  // times 0, 10, ..., 490
  const auto log_dir = log_session(dir, name.str(), first);
  ASSERT_EQ(assemble_log_archives(log_dir).entries, 50U);
  const auto second = make_entries(5, 5, 10, 60);  // times 5, 15, ..., 595: interleaved and later
  (void)log_session(dir, name.str(), second);
  AssembleOptions compressed;
  compressed.compression_level = 3;
  const AssembleReport report = assemble_log_archives(log_dir, compressed);
  ASSERT_EQ(report.sources.size(), 1U);
  EXPECT_EQ(report.sources[0].from_archive, 50U);
  EXPECT_EQ(report.sources[0].from_record_files, 60U);
  std::vector<Entry> all = first;
  all.insert(all.end(), second.begin(), second.end());
  std::stable_sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) { return a.time < b.time; });
  expect_same(read_archive(log_dir / "5_log.npz"), all);
  const auto result = run_python(dir, kNumpyListing, (log_dir / "5_log.npz").string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, numpy_listing(all));
}

TEST(AssembleTest, AtaraxisPerEntryNpyFilesAreAccepted) {
  TempDir dir;
  const auto log_dir = dir / "rig_data_log";
  std::filesystem::create_directories(log_dir);
  // ataraxis writes one np.save file per entry, named by source and time.
  const auto result = run_python(dir, R"(
import sys, os
import numpy as np
for source in (1, 200):
    for t in (0, 3, 40, 41, 1000000):
        payload = bytes((t + i) % 251 for i in range(t % 50)) if t else (1700000000000000).to_bytes(8, 'little')
        entry = np.frombuffer(bytes([source]) + t.to_bytes(8, 'little') + payload, np.uint8)
        np.save(os.path.join(sys.argv[1], '%03d_%020d.npy' % (source, t)), entry, allow_pickle=False)
)",
                                 log_dir.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const AssembleReport report = assemble_log_archives(log_dir);
  EXPECT_TRUE(report.clean());
  ASSERT_EQ(report.sources.size(), 2U);
  for (const std::uint8_t source : {1, 200}) {
    LogArchiveReader reader(log_dir / archive_name(source));
    EXPECT_EQ(reader.entry_count(), 5U);
    EXPECT_EQ(reader.onset_us(), 1700000000000000U);
    std::vector<std::uint64_t> times;
    auto cursor = reader.entries();
    LogEntry entry;
    while (cursor.next(entry)) {
      EXPECT_EQ(entry.source_id, source);
      times.push_back(entry.acquisition_time);
      if (entry.acquisition_time != 0) {
        ASSERT_EQ(entry.payload.size(), entry.acquisition_time % 50);
        for (std::size_t i = 0; i < entry.payload.size(); ++i) {
          EXPECT_EQ(std::to_integer<std::uint64_t>(entry.payload[i]), (entry.acquisition_time + i) % 251);
        }
      }
    }
    EXPECT_EQ(times, (std::vector<std::uint64_t>{0, 3, 40, 41, 1000000}));
  }
  EXPECT_FALSE(std::filesystem::exists(log_dir / "001_00000000000000000003.npy"));
}

TEST(AssembleTest, DuplicateEntriesAreKeptAndReported) {
  ScopedName name("dups");
  TempDir dir;
  std::vector<Entry> entries = make_entries(3, 1, 1, 5);
  entries.insert(entries.begin() + 2, Entry{3, 2, make_payload(17, 999)});  // a second entry at time 2
  const auto log_dir = log_session(dir, name.str(), entries);
  const AssembleReport report = assemble_log_archives(log_dir);
  EXPECT_EQ(report.duplicates, 1U);
  ASSERT_EQ(report.sources.size(), 1U);
  EXPECT_EQ(report.sources[0].duplicates, 1U);
  expect_same(read_archive(log_dir / "3_log.npz"), entries);
}

}  // namespace
}  // namespace shmkit
