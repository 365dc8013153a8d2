#include <shmkit/core/error.hpp>
#include <shmkit/logger/record_file.hpp>

#include <cstring>

#include "core/detail/little_endian.hpp"
#include "logger/backend/checksum.hpp"
#include "logger/backend/file_io.hpp"

namespace shmkit {

namespace {

constexpr char kFileMagic[8] = {'S', 'H', 'M', 'K', 'L', 'O', 'G', '1'};
constexpr std::uint32_t kFileVersion = 1;
constexpr std::uint16_t kFrameMagic = 0x4B53;

}  // namespace

void encode_record_file_header(std::uint8_t source_id, std::span<std::byte, kRecordFileHeaderBytes> out) noexcept {
  std::memset(out.data(), 0, out.size());
  std::memcpy(out.data(), kFileMagic, sizeof kFileMagic);
  detail::store_le<std::uint32_t>(out.data() + 8, kFileVersion);
  out[12] = std::byte{source_id};
}

void encode_record_frame_header(const LogPackage& entry, std::span<std::byte, kRecordFrameHeaderBytes> out) noexcept {
  detail::store_le<std::uint32_t>(out.data(), static_cast<std::uint32_t>(entry.payload.size()));
  out[4] = std::byte{entry.source_id};
  out[5] = std::byte{0};
  detail::store_le<std::uint16_t>(out.data() + 6, kFrameMagic);
  detail::store_le<std::uint64_t>(out.data() + 8, entry.acquisition_time);
}

struct RecordFileReader::Impl {
  std::filesystem::path path;
  detail::InputFile file;
  detail::SequentialReader reader;
  std::uint8_t source = 0;

  explicit Impl(const std::filesystem::path& p) : path(p), file(p), reader(file, 0) {}

  [[noreturn]] void corrupt(std::uint64_t offset, const std::string& problem) const {
    throw CorruptDataError("record file '" + path.string() + "' is damaged at offset " + std::to_string(offset) + ": " +
                           problem);
  }
};

RecordFileReader::RecordFileReader(const std::filesystem::path& path) : impl_(std::make_unique<Impl>(path)) {
  unsigned char header[kRecordFileHeaderBytes];
  const std::size_t n = impl_->reader.read(header, sizeof header);
  if (n != sizeof header || std::memcmp(header, kFileMagic, sizeof kFileMagic) != 0) {
    impl_->corrupt(0, n < sizeof header ? "the file header is truncated" : "not a shmkit record file (bad magic)");
  }
  if (detail::load_le<std::uint32_t>(header + 8) != kFileVersion) {
    impl_->corrupt(
        8, "record file version " + std::to_string(detail::load_le<std::uint32_t>(header + 8)) + " is not supported");
  }
  impl_->source = header[12];
}

RecordFileReader::RecordFileReader(RecordFileReader&&) noexcept = default;
RecordFileReader& RecordFileReader::operator=(RecordFileReader&&) noexcept = default;
RecordFileReader::~RecordFileReader() = default;

bool RecordFileReader::next(LogEntry& entry) {
  auto& r = impl_->reader;
  const std::uint64_t at = r.offset();
  unsigned char header[kRecordFrameHeaderBytes];
  const std::size_t got = r.read(header, sizeof header);
  if (got == 0) {
    return false;
  }
  if (got != sizeof header) {
    impl_->corrupt(at, "torn record: only " + std::to_string(got) + " of the 16 frame-header bytes were written");
  }
  if (detail::load_le<std::uint16_t>(header + 6) != kFrameMagic || header[5] != 0) {
    impl_->corrupt(at, "bad frame marker (not a record boundary)");
  }
  const auto length = detail::load_le<std::uint32_t>(header);
  entry.source_id = header[4];
  entry.acquisition_time = detail::load_le<std::uint64_t>(header + 8);
  if (entry.source_id != impl_->source) {
    impl_->corrupt(at, "record of source " + std::to_string(entry.source_id) + " in the file of source " +
                           std::to_string(impl_->source));
  }
  entry.payload.resize(length);
  const std::size_t body = r.read(entry.payload.data(), length);
  unsigned char crc_bytes[4];
  const std::size_t crc_got = body == length ? r.read(crc_bytes, 4) : 0;
  if (body != length || crc_got != 4) {
    entry.payload.clear();
    impl_->corrupt(at, "torn record: the frame needs " + std::to_string(kRecordFrameHeaderBytes + length + 4) +
                           " bytes but the file ends after " + std::to_string(sizeof header + body + crc_got));
  }
  std::uint32_t crc = detail::crc32(0, header, sizeof header);
  crc = detail::crc32(crc, entry.payload.data(), length);
  if (crc != detail::load_le<std::uint32_t>(crc_bytes)) {
    entry.payload.clear();
    impl_->corrupt(at, "the record fails its CRC-32 check");
  }
  return true;
}

std::uint8_t RecordFileReader::source_id() const noexcept {
  return impl_->source;
}

std::uint64_t RecordFileReader::offset() const noexcept {
  return impl_->reader.offset();
}

const std::filesystem::path& RecordFileReader::path() const noexcept {
  return impl_->path;
}

}  // namespace shmkit
