#include <shmkit/core/error.hpp>
#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/npy.hpp>

#include <libdeflate.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/detail/little_endian.hpp"
#include "logger/archive/zip_format.hpp"
#include "logger/backend/checksum.hpp"
#include "logger/backend/file_io.hpp"

namespace shmkit {

namespace {

using detail::load_le;
namespace zip = detail::zip;

constexpr std::string_view kAllowPickle = "allow_pickle.npy";

struct Member {
  std::string name;
  std::uint16_t method = 0;
  std::uint32_t crc = 0;
  std::uint64_t stored_size = 0;
  std::uint64_t raw_size = 0;
  std::uint64_t local_offset = 0;
  std::uint64_t central_offset = 0;  // where its central record starts, for messages
  std::uint8_t source = 0;
  std::uint64_t time = 0;
};

[[noreturn]] void corrupt(const std::filesystem::path& path, std::uint64_t offset, const std::string& problem) {
  throw CorruptDataError("log archive '" + path.string() + "' is damaged at offset " + std::to_string(offset) + ": " +
                         problem);
}

// Parses "{source:03d}_{time:020d}.npy".
bool parse_member_name(std::string_view name, std::uint8_t& source, std::uint64_t& time) {
  if (name.size() != 3 + 1 + 20 + 4 || name[3] != '_' || name.substr(24) != ".npy") {
    return false;
  }
  unsigned value = 0;
  if (std::from_chars(name.data(), name.data() + 3, value).ptr != name.data() + 3 || value > 255) {
    return false;
  }
  source = static_cast<std::uint8_t>(value);
  return std::from_chars(name.data() + 4, name.data() + 24, time).ptr == name.data() + 24;
}

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const noexcept { libdeflate_free_decompressor(d); }
};

}  // namespace

struct LogArchiveReader::Impl {
  std::filesystem::path path;
  detail::InputFile file;
  std::uint64_t entries = 0;  // central records
  std::uint64_t cd_offset = 0;
  std::uint64_t cd_size = 0;
  std::uint64_t usable = 0;  // entries without allow_pickle.npy
  std::uint64_t onsets = 0;
  std::optional<Member> onset_member;

  // Reads the central record at the reader's position.
  Member read_central(detail::SequentialReader& reader) const {
    Member m;
    m.central_offset = reader.offset();
    unsigned char h[zip::kCentralHeaderBytes];
    if (reader.read(h, sizeof h) != sizeof h || load_le<std::uint32_t>(h) != zip::kCentralHeaderSig) {
      corrupt(path, m.central_offset, "expected a central directory record");
    }
    m.method = load_le<std::uint16_t>(h + 10);
    m.crc = load_le<std::uint32_t>(h + 16);
    m.stored_size = load_le<std::uint32_t>(h + 20);
    m.raw_size = load_le<std::uint32_t>(h + 24);
    const auto name_len = load_le<std::uint16_t>(h + 28);
    const auto extra_len = load_le<std::uint16_t>(h + 30);
    const auto comment_len = load_le<std::uint16_t>(h + 32);
    m.local_offset = load_le<std::uint32_t>(h + 42);
    std::string variable(static_cast<std::size_t>(name_len) + extra_len + comment_len, '\0');
    if (reader.read(variable.data(), variable.size()) != variable.size()) {
      corrupt(path, m.central_offset, "central directory record is truncated");
    }
    m.name = variable.substr(0, name_len);
    // ZIP64 extra: the 64-bit values of the fields set to 0xffffffff, in order.
    std::string_view extra(variable.data() + name_len, extra_len);
    while (extra.size() >= 4) {
      const auto id = load_le<std::uint16_t>(extra.data());
      const auto len = load_le<std::uint16_t>(extra.data() + 2);
      if (extra.size() < 4U + len) {
        break;
      }
      if (id == zip::kZip64ExtraId) {
        std::string_view field = extra.substr(4, len);
        auto take = [&](std::uint64_t& value) {
          if (value == zip::kMax32) {
            if (field.size() < 8) {
              corrupt(path, m.central_offset, "ZIP64 extra field is too short");
            }
            value = load_le<std::uint64_t>(field.data());
            field.remove_prefix(8);
          }
        };
        take(m.raw_size);
        take(m.stored_size);
        take(m.local_offset);
      }
      extra.remove_prefix(4U + len);
    }
    if (m.name != kAllowPickle && !parse_member_name(m.name, m.source, m.time)) {
      corrupt(path, m.central_offset,
              "member '" + m.name + "' is not named {source:03d}_{time:020d}.npy, so this is not a log archive");
    }
    if (m.method != zip::kMethodStored && m.method != zip::kMethodDeflate) {
      corrupt(path, m.central_offset,
              "member '" + m.name + "' uses compression method " + std::to_string(m.method) +
                  " (only stored and deflate are supported)");
    }
    return m;
  }

  void locate_central_directory() {
    const std::uint64_t size = file.size();
    if (size < zip::kEndBytes) {
      corrupt(path, 0, "the file is " + std::to_string(size) + " bytes, too short to be a zip archive");
    }
    const std::uint64_t window = std::min<std::uint64_t>(size, zip::kEndBytes + 0xffff);
    std::vector<unsigned char> tail(window);
    file.read_at(tail.data(), window, size - window);
    std::optional<std::size_t> end_at;
    for (std::size_t i = window - zip::kEndBytes + 1; i-- > 0;) {
      if (load_le<std::uint32_t>(tail.data() + i) == zip::kEndSig) {
        end_at = i;
        break;
      }
    }
    if (!end_at) {
      corrupt(path, size, "no end-of-central-directory record (truncated, or not a zip archive)");
    }
    const unsigned char* end = tail.data() + *end_at;
    const std::uint64_t end_offset = size - window + *end_at;
    entries = load_le<std::uint16_t>(end + 10);
    cd_size = load_le<std::uint32_t>(end + 12);
    cd_offset = load_le<std::uint32_t>(end + 16);
    if (end_offset >= zip::kZip64LocatorBytes) {
      unsigned char locator[zip::kZip64LocatorBytes];
      file.read_at(locator, sizeof locator, end_offset - zip::kZip64LocatorBytes);
      if (load_le<std::uint32_t>(locator) == zip::kZip64LocatorSig) {
        const auto z64_offset = load_le<std::uint64_t>(locator + 8);
        unsigned char z64[zip::kZip64EndBytes];
        if (file.read_at(z64, sizeof z64, z64_offset) != sizeof z64 ||
            load_le<std::uint32_t>(z64) != zip::kZip64EndSig) {
          corrupt(path, z64_offset, "the ZIP64 end record is missing");
        }
        entries = load_le<std::uint64_t>(z64 + 32);
        cd_size = load_le<std::uint64_t>(z64 + 40);
        cd_offset = load_le<std::uint64_t>(z64 + 48);
      }
    }
    if (cd_offset + cd_size > end_offset) {
      corrupt(path, end_offset, "the central directory lies outside the file (truncated archive?)");
    }
  }

  void scan() {
    detail::SequentialReader reader(file, cd_offset);
    for (std::uint64_t i = 0; i < entries; ++i) {
      Member m = read_central(reader);
      if (m.name == kAllowPickle) {
        continue;
      }
      ++usable;
      if (m.time == kOnsetTime) {
        ++onsets;
        if (!onset_member) {
          onset_member = std::move(m);
        }
      }
    }
  }
};

struct LogArchiveReader::Cursor::Impl {
  std::shared_ptr<const LogArchiveReader::Impl> archive;
  detail::SequentialReader central;
  detail::SequentialReader data;
  std::uint64_t index = 0;
  std::vector<std::byte> stored;
  std::vector<std::byte> raw;
  std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> decompressor;

  explicit Impl(std::shared_ptr<const LogArchiveReader::Impl> a)
      : archive(std::move(a)),
        central(archive->file, archive->cd_offset, std::size_t{64} << 10),
        data(archive->file, 0, std::size_t{1} << 20) {}

  void read_member(const Member& m, LogEntry& entry) {
    const auto& path = archive->path;
    data.seek(m.local_offset);
    unsigned char h[zip::kLocalHeaderBytes];
    if (data.read(h, sizeof h) != sizeof h || load_le<std::uint32_t>(h) != zip::kLocalHeaderSig) {
      corrupt(path, m.local_offset, "member '" + m.name + "' has no local header");
    }
    const std::uint64_t skip = std::uint64_t{load_le<std::uint16_t>(h + 26)} + load_le<std::uint16_t>(h + 28);
    const std::uint64_t data_offset = m.local_offset + zip::kLocalHeaderBytes + skip;
    data.seek(data_offset);
    stored.resize(m.stored_size);
    if (data.read(stored.data(), stored.size()) != stored.size()) {
      corrupt(path, data_offset, "member '" + m.name + "' is truncated");
    }
    std::vector<std::byte>* bytes = &stored;
    if (m.method == zip::kMethodDeflate) {
      if (!decompressor) {
        decompressor.reset(libdeflate_alloc_decompressor());
        if (!decompressor) {
          throw std::bad_alloc();
        }
      }
      raw.resize(m.raw_size);
      if (libdeflate_deflate_decompress(decompressor.get(), stored.data(), stored.size(), raw.data(), raw.size(),
                                        nullptr) != LIBDEFLATE_SUCCESS) {
        corrupt(path, data_offset, "member '" + m.name + "' does not inflate to its recorded size");
      }
      bytes = &raw;
    } else if (m.stored_size != m.raw_size) {
      corrupt(path, m.central_offset, "stored member '" + m.name + "' has different stored and raw sizes");
    }
    if (detail::crc32(0, bytes->data(), bytes->size()) != m.crc) {
      corrupt(path, data_offset, "member '" + m.name + "' fails its CRC-32 check");
    }
    const std::string what =
        "member '" + m.name + "' of log archive '" + path.string() + "' (offset " + std::to_string(data_offset) + ")";
    const NpyU1Layout layout = parse_npy_u1_header(*bytes, what);
    if (layout.header_bytes + layout.length != bytes->size() || layout.length < kEntryPrefixBytes) {
      throw CorruptDataError(what + " holds " + std::to_string(layout.length) +
                             " elements, which do not match its size or are fewer than the 9-byte entry prefix");
    }
    const std::byte* body = bytes->data() + layout.header_bytes;
    entry.source_id = std::to_integer<std::uint8_t>(body[0]);
    entry.acquisition_time = load_le<std::uint64_t>(body + 1);
    if (entry.source_id != m.source || entry.acquisition_time != m.time) {
      throw CorruptDataError(what + " holds source " + std::to_string(entry.source_id) + " time " +
                             std::to_string(entry.acquisition_time) + ", which disagrees with its name");
    }
    entry.payload.assign(body + kEntryPrefixBytes, body + layout.length);
  }
};

LogArchiveReader::LogArchiveReader(const std::filesystem::path& path) {
  auto impl = std::make_shared<Impl>();
  impl->path = path;
  impl->file = detail::InputFile(path);
  impl->locate_central_directory();
  impl->scan();
  impl_ = std::move(impl);
}

LogArchiveReader::LogArchiveReader(LogArchiveReader&&) noexcept = default;
LogArchiveReader& LogArchiveReader::operator=(LogArchiveReader&&) noexcept = default;
LogArchiveReader::~LogArchiveReader() = default;

std::uint64_t LogArchiveReader::entry_count() const noexcept {
  return impl_->usable;
}

std::uint64_t LogArchiveReader::message_count() const noexcept {
  return impl_->usable - impl_->onsets;
}

const std::filesystem::path& LogArchiveReader::path() const noexcept {
  return impl_->path;
}

std::optional<std::uint64_t> LogArchiveReader::onset_us() const {
  if (!impl_->onset_member) {
    return std::nullopt;
  }
  Cursor::Impl cursor(impl_);
  LogEntry entry;
  cursor.read_member(*impl_->onset_member, entry);
  if (entry.payload.size() != kOnsetPayloadBytes) {
    throw CorruptDataError("log archive '" + impl_->path.string() + "': onset member '" + impl_->onset_member->name +
                           "' has a " + std::to_string(entry.payload.size()) + "-byte payload, expected 8");
  }
  return load_le<std::uint64_t>(entry.payload.data());
}

LogArchiveReader::Cursor LogArchiveReader::entries() const {
  return Cursor(std::make_unique<Cursor::Impl>(impl_));
}

LogArchiveReader::Cursor::Cursor(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
LogArchiveReader::Cursor::Cursor(Cursor&&) noexcept = default;
LogArchiveReader::Cursor& LogArchiveReader::Cursor::operator=(Cursor&&) noexcept = default;
LogArchiveReader::Cursor::~Cursor() = default;

bool LogArchiveReader::Cursor::next(LogEntry& entry) {
  auto& c = *impl_;
  while (c.index < c.archive->entries) {
    const Member m = c.archive->read_central(c.central);
    ++c.index;
    if (m.name == kAllowPickle) {
      continue;
    }
    c.read_member(m, entry);
    return true;
  }
  return false;
}

}  // namespace shmkit
