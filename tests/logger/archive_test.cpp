// The archive format: golden .npy bytes, numpy reading what NpzWriter
// writes (stored, deflated, ZIP64), LogArchiveReader reading what numpy
// writes, and damaged archives reported as CorruptDataError.

#include <gtest/gtest.h>
#include <libdeflate.h>

#include <array>
#include <cstring>
#include <fstream>
#include <sstream>

#include <shmkit/core/error.hpp>
#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/log_package.hpp>
#include <shmkit/logger/npy.hpp>
#include <shmkit/logger/npz_writer.hpp>

#include "logger_test_util.hpp"

namespace shmkit {
namespace {

using testing::make_payload;
using testing::run_python;
using testing::TempDir;

struct Expected {
  std::uint8_t source;
  std::uint64_t time;
  std::vector<std::byte> payload;
};

std::vector<Expected> sample_entries(std::uint8_t source, std::size_t count) {
  std::vector<Expected> entries;
  const auto onset = utc_now_us();
  std::vector<std::byte> onset_payload(8);
  for (int i = 0; i < 8; ++i) {
    onset_payload[i] = std::byte(static_cast<unsigned char>(onset >> (8 * i)));
  }
  entries.push_back({source, 0, onset_payload});
  for (std::size_t i = 1; i < count; ++i) {
    const std::size_t size = i == 3 ? 0 : (i == 5 ? 200000 : (i * 37) % 300);
    entries.push_back({source, i * 1000 + 7, make_payload(size, i)});
  }
  return entries;
}

void write_archive(const std::filesystem::path& path, const std::vector<Expected>& entries,
                   const NpzWriterOptions& options) {
  NpzWriter writer(path, options);
  for (const auto& e : entries) {
    writer.add_entry(e.source, e.time, e.payload);
  }
  writer.finish();
}

// What the numpy check prints for every member: name, dtype, length, crc32.
std::string expected_listing(const std::vector<Expected>& entries) {
  std::ostringstream out;
  for (const auto& e : entries) {
    std::array<std::byte, kEntryPrefixBytes> prefix{};
    encode_entry_prefix(e.source, e.time, prefix);
    std::uint32_t crc = libdeflate_crc32(0, prefix.data(), prefix.size());
    if (!e.payload.empty()) {
      crc = libdeflate_crc32(crc, e.payload.data(), e.payload.size());
    }
    out << member_name(e.source, e.time).substr(0, 24) << " |u1 " << (kEntryPrefixBytes + e.payload.size()) << " "
        << crc << "\n";
  }
  return out.str();
}

constexpr const char* kListScript = R"(
import sys, zlib
import numpy as np
with np.load(sys.argv[1]) as f:
    for name in f.files:
        a = f[name]
        assert a.ndim == 1
        print(name, a.dtype.str, a.shape[0], zlib.crc32(a.tobytes()))
)";

TEST(NpyTest, HeaderIsNumpysHeader) {
  const std::string header = npy_u1_header(13);
  ASSERT_EQ(header.size(), kNpyU1HeaderBytes);
  const std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (13,), }";
  EXPECT_EQ(header.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(header[6], '\x01');
  EXPECT_EQ(header[7], '\x00');
  EXPECT_EQ(static_cast<unsigned char>(header[8]) | (static_cast<unsigned char>(header[9]) << 8), 118);
  EXPECT_EQ(header.substr(10, dict.size()), dict);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(header.find_first_not_of(' ', 10 + dict.size()), header.size() - 1);
  const auto parsed = parse_npy_u1_header(std::as_bytes(std::span(header)), "test");
  EXPECT_EQ(parsed.header_bytes, 128U);
  EXPECT_EQ(parsed.length, 13U);
}

TEST(NpyTest, GoldenMemberBytesEqualNumpys) {
  TempDir dir;
  const std::vector<std::byte> payload = make_payload(23, 99);
  std::array<std::byte, kEntryPrefixBytes> prefix{};
  encode_entry_prefix(7, 1234567890, prefix);
  std::string ours = npy_u1_header(kEntryPrefixBytes + payload.size());
  ours.append(reinterpret_cast<const char*>(prefix.data()), prefix.size());
  ours.append(reinterpret_cast<const char*>(payload.data()), payload.size());
  std::ofstream(dir / "payload.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(payload.data()), static_cast<std::streamsize>(payload.size()));

  const auto result = run_python(dir, R"(
import sys
import numpy as np
payload = open(sys.argv[1], 'rb').read()
entry = np.concatenate([np.array([7], np.uint8), np.frombuffer(np.uint64(1234567890).tobytes(), np.uint8),
                        np.frombuffer(payload, np.uint8)])
np.save(sys.argv[2], entry, allow_pickle=False)
)",
                                 (dir / "payload.bin").string() + " " + (dir / "numpy.npy").string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::ifstream in(dir / "numpy.npy", std::ios::binary);
  const std::string theirs((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(ours, theirs);
  EXPECT_EQ(member_name(7, 1234567890), "007_00000000001234567890.npy");
  EXPECT_EQ(archive_name(7), "7_log.npz");
}

TEST(NpyTest, ParseRejectsOtherArrays) {
  const std::string text = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
  EXPECT_THROW((void)parse_npy_u1_header(std::as_bytes(std::span(text)), "x"), CorruptDataError);
  const std::string junk = "not numpy at all";
  try {
    (void)parse_npy_u1_header(std::as_bytes(std::span(junk)), "member 'x'");
    FAIL() << "expected CorruptDataError";
  } catch (const CorruptDataError& e) {
    EXPECT_NE(std::string(e.what()).find("member 'x'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("magic"), std::string::npos);
  }
}

class ArchiveNumpyTest : public ::testing::TestWithParam<NpzWriterOptions> {};

TEST_P(ArchiveNumpyTest, NumpyLoadsEveryMember) {
  TempDir dir;
  const auto entries = sample_entries(7, 40);
  const auto path = dir / "7_log.npz";
  write_archive(path, entries, GetParam());
  const auto result = run_python(dir, kListScript, path.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, expected_listing(entries));
}

TEST_P(ArchiveNumpyTest, ReaderReturnsEveryEntryInOrder) {
  TempDir dir;
  const auto entries = sample_entries(3, 40);
  const auto path = dir / "3_log.npz";
  write_archive(path, entries, GetParam());
  LogArchiveReader reader(path);
  EXPECT_EQ(reader.entry_count(), entries.size());
  EXPECT_EQ(reader.message_count(), entries.size() - 1);
  std::uint64_t onset = 0;
  std::memcpy(&onset, entries[0].payload.data(), 8);
  EXPECT_EQ(reader.onset_us(), onset);
  auto cursor = reader.entries();
  LogEntry entry;
  for (const auto& e : entries) {
    ASSERT_TRUE(cursor.next(entry));
    EXPECT_EQ(entry.source_id, e.source);
    EXPECT_EQ(entry.acquisition_time, e.time);
    EXPECT_EQ(entry.payload, e.payload);
  }
  EXPECT_FALSE(cursor.next(entry));
  std::size_t i = 1;
  reader.for_each_message([&](const LogMessage& m) {
    ASSERT_LT(i, entries.size());
    EXPECT_EQ(m.timestamp_us, onset + entries[i].time);
    EXPECT_TRUE(std::equal(m.payload.begin(), m.payload.end(), entries[i].payload.begin(), entries[i].payload.end()));
    ++i;
  });
  EXPECT_EQ(i, entries.size());
}

INSTANTIATE_TEST_SUITE_P(Formats, ArchiveNumpyTest,
                         ::testing::Values(NpzWriterOptions{0, false}, NpzWriterOptions{6, false},
                                           NpzWriterOptions{0, true}, NpzWriterOptions{1, true}),
                         [](const auto& info) {
                           return std::string(info.param.compression_level ? "Deflate" : "Stored") +
                                  (info.param.force_zip64 ? "Zip64" : "");
                         });

TEST(ArchiveTest, MoreThan65535MembersUseZip64AndOpenInNumpy) {
  TempDir dir;
  const auto path = dir / "1_log.npz";
  constexpr std::uint64_t kCount = 65536 + 100;
  {
    NpzWriter writer(path, {});
    const std::byte payload[2] = {std::byte{1}, std::byte{2}};
    for (std::uint64_t t = 0; t < kCount; ++t) {
      writer.add_entry(1, t + 1, payload);
    }
    writer.finish();
  }
  const auto result = run_python(dir, R"(
import sys
import numpy as np
with np.load(sys.argv[1]) as f:
    names = f.files
    print(len(names), names[0], names[-1], f[names[-1]].tobytes()[-2:].hex())
)",
                                 path.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output,
            std::to_string(kCount) + " 001_00000000000000000001 " + member_name(1, kCount).substr(0, 24) + " 0102\n");
  LogArchiveReader reader(path);
  EXPECT_EQ(reader.entry_count(), kCount);
  EXPECT_FALSE(reader.onset_us().has_value());
}

TEST(ArchiveTest, ReaderReadsNumpysArchivesAndSkipsAllowPickle) {
  TempDir dir;
  const auto path = dir / "9_log.npz";
  for (const bool compressed : {false, true}) {
    const auto result = run_python(dir, R"(
import sys
import numpy as np
def entry(t, payload):
    return np.frombuffer(bytes([9]) + int(t).to_bytes(8, 'little') + payload, np.uint8)
arrays = {'009_%020d' % t: entry(t, bytes(range(t % 7))) for t in (0, 5, 17)}
arrays['009_00000000000000000000'] = entry(0, (1234).to_bytes(8, 'little'))
arrays['allow_pickle'] = np.array(False)
(np.savez_compressed if sys.argv[2] == '1' else np.savez)(sys.argv[1], **arrays)
)",
                                   path.string() + (compressed ? " 1" : " 0"));
    ASSERT_EQ(result.exit_code, 0) << result.output;
    LogArchiveReader reader(path);
    EXPECT_EQ(reader.entry_count(), 3U);
    EXPECT_EQ(reader.message_count(), 2U);
    EXPECT_EQ(reader.onset_us(), 1234U);
    auto cursor = reader.entries();
    LogEntry entry;
    std::vector<std::uint64_t> times;
    while (cursor.next(entry)) {
      times.push_back(entry.acquisition_time);
      if (entry.acquisition_time != 0) {
        EXPECT_EQ(entry.payload.size(), entry.acquisition_time % 7);
      }
    }
    EXPECT_EQ(times, (std::vector<std::uint64_t>{0, 5, 17}));
  }
}

void expect_corrupt(const std::filesystem::path& path, const std::string& key_words) {
  try {
    LogArchiveReader reader(path);
    auto cursor = reader.entries();
    LogEntry entry;
    while (cursor.next(entry)) {
    }
    FAIL() << "expected CorruptDataError for " << path;
  } catch (const CorruptDataError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find("offset"), std::string::npos) << message;
    EXPECT_NE(message.find(key_words), std::string::npos) << message;
  }
}

TEST(ArchiveTest, DamagedArchivesAreCorruptDataErrors) {
  TempDir dir;
  const auto entries = sample_entries(2, 10);
  const auto path = dir / "2_log.npz";
  write_archive(path, entries, {});
  const auto size = std::filesystem::file_size(path);

  std::filesystem::copy_file(path, dir / "flipped.npz");
  {
    std::fstream f(dir / "flipped.npz", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30 + 28 + 128 + 9 + 3);  // inside the first member's payload
    f.put('\x55');
  }
  expect_corrupt(dir / "flipped.npz", "CRC");

  std::filesystem::copy_file(path, dir / "truncated.npz");
  std::filesystem::resize_file(dir / "truncated.npz", size - 40);
  expect_corrupt(dir / "truncated.npz", "end-of-central-directory");

  std::ofstream(dir / "empty.npz") << "";
  expect_corrupt(dir / "empty.npz", "too short");
  EXPECT_THROW(LogArchiveReader(dir / "missing.npz"), NotFoundError);
}

}  // namespace
}  // namespace shmkit
