#include <shmkit/logger/log_package.hpp>
#include <shmkit/logger/npy.hpp>
#include <shmkit/logger/npz_writer.hpp>

#include <shmkit/core/error.hpp>

#include <libdeflate.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/detail/little_endian.hpp"
#include "logger/archive/zip_format.hpp"
#include "logger/backend/checksum.hpp"
#include "logger/backend/file_io.hpp"

namespace shmkit {

namespace {

using detail::put_le;
namespace zip = detail::zip;

// The central directory is kept in memory up to this size, then spilled.
constexpr std::size_t kCentralSpillBytes = std::size_t{4} << 20;

struct DosTime {
  std::uint16_t time = 0;
  std::uint16_t date = (1 << 5) | 1;  // 1980-01-01
};

DosTime dos_now() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  if (::localtime_r(&now, &local) == nullptr || local.tm_year < 80) {
    return {};
  }
  DosTime t;
  t.time = static_cast<std::uint16_t>((local.tm_hour << 11) | (local.tm_min << 5) | (local.tm_sec / 2));
  t.date = static_cast<std::uint16_t>(((local.tm_year - 80) << 9) | ((local.tm_mon + 1) << 5) | local.tm_mday);
  return t;
}

struct CompressorDeleter {
  void operator()(libdeflate_compressor* c) const noexcept { libdeflate_free_compressor(c); }
};

}  // namespace

struct NpzWriter::Impl {
  std::filesystem::path path;
  NpzWriterOptions options;
  detail::OutputFile out;
  std::unique_ptr<libdeflate_compressor, CompressorDeleter> compressor;
  std::string central;                      // central directory records not yet spilled
  std::optional<detail::OutputFile> spill;  // central directory records beyond kCentralSpillBytes
  std::uint64_t central_bytes = 0;
  std::uint64_t members = 0;
  DosTime stamp = dos_now();
  std::vector<std::byte> plain;  // header + prefix + payload of the entry being deflated
  std::vector<std::byte> compressed;
  std::string header;  // scratch for local headers
  bool finished = false;

  void add(std::uint8_t source, std::uint64_t time, std::span<const std::byte> payload);
  std::uint64_t finish(bool sync);
};

NpzWriter::NpzWriter(const std::filesystem::path& path, const NpzWriterOptions& options)
    : impl_(std::make_unique<Impl>()) {
  if (options.compression_level < 0 || options.compression_level > 12) {
    throw std::invalid_argument("compression level " + std::to_string(options.compression_level) + " is outside 0..12");
  }
  impl_->path = path;
  impl_->options = options;
  impl_->out = detail::OutputFile(path, detail::OutputFile::Mode::truncate);
  if (options.compression_level > 0) {
    impl_->compressor.reset(libdeflate_alloc_compressor(options.compression_level));
    if (!impl_->compressor) {
      throw std::bad_alloc();
    }
  }
}

NpzWriter::NpzWriter(NpzWriter&&) noexcept = default;
NpzWriter& NpzWriter::operator=(NpzWriter&&) noexcept = default;
NpzWriter::~NpzWriter() = default;

void NpzWriter::add_entry(std::uint8_t source_id, std::uint64_t acquisition_time, std::span<const std::byte> payload) {
  impl_->add(source_id, acquisition_time, payload);
}

std::uint64_t NpzWriter::finish(bool sync) {
  return impl_->finish(sync);
}

std::uint64_t NpzWriter::member_count() const noexcept {
  return impl_->members;
}

void NpzWriter::Impl::add(std::uint8_t source, std::uint64_t time, std::span<const std::byte> payload) {
  const std::string name = member_name(source, time);
  const std::uint64_t length = kEntryPrefixBytes + payload.size();
  const std::string npy = npy_u1_header(length);
  std::array<std::byte, kEntryPrefixBytes> prefix{};
  encode_entry_prefix(source, time, prefix);
  const std::uint64_t raw_size = npy.size() + length;

  std::uint32_t crc = detail::crc32(0, npy.data(), npy.size());
  crc = detail::crc32(crc, prefix.data(), prefix.size());
  crc = detail::crc32(crc, payload.data(), payload.size());

  std::uint16_t method = zip::kMethodStored;
  std::uint64_t stored_size = raw_size;
  if (compressor) {
    plain.resize(raw_size);
    std::memcpy(plain.data(), npy.data(), npy.size());
    std::memcpy(plain.data() + npy.size(), prefix.data(), prefix.size());
    if (!payload.empty()) {
      std::memcpy(plain.data() + npy.size() + prefix.size(), payload.data(), payload.size());
    }
    compressed.resize(libdeflate_deflate_compress_bound(compressor.get(), raw_size));
    const std::size_t n =
        libdeflate_deflate_compress(compressor.get(), plain.data(), raw_size, compressed.data(), compressed.size());
    if (n > 0 && n < raw_size) {
      method = zip::kMethodDeflate;
      stored_size = n;
    }
  }

  const std::uint64_t offset = out.offset();
  const bool big_sizes = raw_size >= zip::kMax32 || stored_size >= zip::kMax32;
  const bool local_zip64 = options.force_zip64 || big_sizes;
  const std::uint16_t version = local_zip64 ? zip::kVersionZip64 : zip::kVersionDefault;

  header.clear();
  put_le<std::uint32_t>(header, zip::kLocalHeaderSig);
  put_le<std::uint16_t>(header, version);
  put_le<std::uint16_t>(header, 0);
  put_le<std::uint16_t>(header, method);
  put_le<std::uint16_t>(header, stamp.time);
  put_le<std::uint16_t>(header, stamp.date);
  put_le<std::uint32_t>(header, crc);
  put_le<std::uint32_t>(header, local_zip64 ? zip::kMax32 : static_cast<std::uint32_t>(stored_size));
  put_le<std::uint32_t>(header, local_zip64 ? zip::kMax32 : static_cast<std::uint32_t>(raw_size));
  put_le<std::uint16_t>(header, static_cast<std::uint16_t>(name.size()));
  put_le<std::uint16_t>(header, local_zip64 ? 20 : 0);
  header += name;
  if (local_zip64) {
    put_le<std::uint16_t>(header, zip::kZip64ExtraId);
    put_le<std::uint16_t>(header, 16);
    put_le<std::uint64_t>(header, raw_size);
    put_le<std::uint64_t>(header, stored_size);
  }
  out.write(header.data(), header.size());
  if (method == zip::kMethodDeflate) {
    out.write(compressed.data(), stored_size);
  } else {
    out.write(npy.data(), npy.size());
    out.write(prefix.data(), prefix.size());
    out.write(payload);
  }

  // Central directory record: ZIP64 fields only for values that overflow
  // (or all of them when forced), in the order the spec fixes.
  const bool cd_sizes64 = options.force_zip64 || big_sizes;
  const bool cd_offset64 = options.force_zip64 || offset >= zip::kMax32;
  std::string extra;
  if (cd_sizes64 || cd_offset64) {
    put_le<std::uint16_t>(extra, zip::kZip64ExtraId);
    put_le<std::uint16_t>(extra, static_cast<std::uint16_t>((cd_sizes64 ? 16 : 0) + (cd_offset64 ? 8 : 0)));
    if (cd_sizes64) {
      put_le<std::uint64_t>(extra, raw_size);
      put_le<std::uint64_t>(extra, stored_size);
    }
    if (cd_offset64) {
      put_le<std::uint64_t>(extra, offset);
    }
  }
  const std::size_t before = central.size();
  put_le<std::uint32_t>(central, zip::kCentralHeaderSig);
  put_le<std::uint16_t>(central, zip::kMadeByUnix | (extra.empty() ? zip::kVersionDefault : zip::kVersionZip64));
  put_le<std::uint16_t>(central, extra.empty() ? zip::kVersionDefault : zip::kVersionZip64);
  put_le<std::uint16_t>(central, 0);
  put_le<std::uint16_t>(central, method);
  put_le<std::uint16_t>(central, stamp.time);
  put_le<std::uint16_t>(central, stamp.date);
  put_le<std::uint32_t>(central, crc);
  put_le<std::uint32_t>(central, cd_sizes64 ? zip::kMax32 : static_cast<std::uint32_t>(stored_size));
  put_le<std::uint32_t>(central, cd_sizes64 ? zip::kMax32 : static_cast<std::uint32_t>(raw_size));
  put_le<std::uint16_t>(central, static_cast<std::uint16_t>(name.size()));
  put_le<std::uint16_t>(central, static_cast<std::uint16_t>(extra.size()));
  put_le<std::uint16_t>(central, 0);  // comment
  put_le<std::uint16_t>(central, 0);  // disk
  put_le<std::uint16_t>(central, 0);  // internal attributes
  put_le<std::uint32_t>(central, 0100644U << 16);
  put_le<std::uint32_t>(central, cd_offset64 ? zip::kMax32 : static_cast<std::uint32_t>(offset));
  central += name;
  central += extra;
  central_bytes += central.size() - before;
  ++members;

  if (central.size() >= kCentralSpillBytes) {
    if (!spill) {
      spill = detail::OutputFile::temporary(path.parent_path().empty() ? "." : path.parent_path());
    }
    spill->write(central.data(), central.size());
    central.clear();
  }
}

std::uint64_t NpzWriter::Impl::finish(bool sync) {
  if (finished) {
    return out.offset();
  }
  const std::uint64_t cd_offset = out.offset();
  if (spill) {
    spill->flush();
    std::vector<std::byte> chunk(std::size_t{1} << 20);
    // The spill file is anonymous; read it back through its descriptor.
    const std::uint64_t spilled = spill->offset();
    for (std::uint64_t at = 0; at < spilled;) {
      const ssize_t n = ::pread(spill->fd(), chunk.data(), std::min<std::uint64_t>(chunk.size(), spilled - at),
                                static_cast<off_t>(at));
      if (n <= 0) {
        if (n < 0 && errno == EINTR) {
          continue;
        }
        throw Error("cannot read back the central directory of '" + path.string() + "'");
      }
      out.write(chunk.data(), static_cast<std::size_t>(n));
      at += static_cast<std::uint64_t>(n);
    }
    spill.reset();
  }
  out.write(central.data(), central.size());
  central.clear();
  const std::uint64_t cd_size = central_bytes;
  const std::uint64_t cd_end = out.offset();

  const bool zip64 =
      options.force_zip64 || members >= zip::kMax16 || cd_size >= zip::kMax32 || cd_offset >= zip::kMax32;
  std::string tail;
  if (zip64) {
    put_le<std::uint32_t>(tail, zip::kZip64EndSig);
    put_le<std::uint64_t>(tail, zip::kZip64EndBytes - 12);
    put_le<std::uint16_t>(tail, zip::kMadeByUnix | zip::kVersionZip64);
    put_le<std::uint16_t>(tail, zip::kVersionZip64);
    put_le<std::uint32_t>(tail, 0);
    put_le<std::uint32_t>(tail, 0);
    put_le<std::uint64_t>(tail, members);
    put_le<std::uint64_t>(tail, members);
    put_le<std::uint64_t>(tail, cd_size);
    put_le<std::uint64_t>(tail, cd_offset);
    put_le<std::uint32_t>(tail, zip::kZip64LocatorSig);
    put_le<std::uint32_t>(tail, 0);
    put_le<std::uint64_t>(tail, cd_end);
    put_le<std::uint32_t>(tail, 1);
  }
  put_le<std::uint32_t>(tail, zip::kEndSig);
  put_le<std::uint16_t>(tail, 0);
  put_le<std::uint16_t>(tail, 0);
  const auto count16 = static_cast<std::uint16_t>(zip64 ? zip::kMax16 : members);
  put_le<std::uint16_t>(tail, count16);
  put_le<std::uint16_t>(tail, count16);
  put_le<std::uint32_t>(tail, zip64 ? zip::kMax32 : static_cast<std::uint32_t>(cd_size));
  put_le<std::uint32_t>(tail, zip64 ? zip::kMax32 : static_cast<std::uint32_t>(cd_offset));
  put_le<std::uint16_t>(tail, 0);
  out.write(tail.data(), tail.size());
  if (sync) {
    out.sync();
  }
  const std::uint64_t size = out.offset();
  out.close();
  finished = true;
  return size;
}

}  // namespace shmkit
