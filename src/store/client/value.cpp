#include <shmkit/core/error.hpp>
#include <shmkit/store/value.hpp>

#include <cstring>

#include "store/common/protocol.hpp"

namespace shmkit {

namespace {

constexpr std::uint32_t kValueMagic = 0x31'56'4b'53;  // "SKV1"
constexpr std::uint8_t kNoDtype = 0xff;
constexpr std::size_t kMaxDimensions = 32;            // numpy's limit
constexpr std::uint32_t kImageMagic = 0x31'49'4b'53;  // "SKI1"
constexpr std::size_t kImageHeaderBytes = 4 + 8 + 4;  // magic, fingerprint, size
// magic, type, dtype, ndim, pad, pid, time, description size, type name size
constexpr std::size_t kFixedBytes = 4 + 4 + 4 + 8 + 4 + 4;

template <class T>
T read_at(std::span<const std::byte> bytes, std::size_t offset) noexcept {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

}  // namespace

std::string ValueInfo::type_text() const {
  const std::string element = dtype ? std::string(dtype_name(*dtype)) : std::string("?");
  switch (type) {
    case ValueType::bytes:
      return "bytes";
    case ValueType::string:
      return "string";
    case ValueType::scalar:
      return element + " scalar";
    case ValueType::array: {
      std::string text = element + " array of shape (";
      for (std::size_t i = 0; i < shape.size(); ++i) {
        text += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
      }
      return text + (shape.size() == 1 ? ",)" : ")");
    }
    case ValueType::config:
      return "config " + type_name;
  }
  return "unknown value";
}

namespace detail {

std::vector<std::byte> encode_value_metadata(const ValueInfo& info, std::size_t image_bytes) {
  std::vector<std::byte> metadata;
  encode_value_metadata_into(metadata, info, {info.description, info.creator_pid, info.created_unix_ns}, image_bytes);
  return metadata;
}

void encode_value_metadata_into(std::vector<std::byte>& metadata, const ValueInfo& info, const ValueStamp& stamp,
                                std::size_t image_bytes) {
  // Sized once and written in place: a set encodes this on every call,
  // often with cold caches, where each reallocation of a growing buffer
  // costs a cache-missing malloc and free.
  const std::size_t size = kFixedBytes + info.shape.size() * 8 + stamp.description.size() + info.type_name.size();
  metadata.clear();
  metadata.reserve(size + (image_bytes == 0 ? 0 : kImageHeaderBytes + image_bytes));
  metadata.resize(size);
  std::byte* out = metadata.data();
  const auto put = [&out](const auto& value) {
    std::memcpy(out, &value, sizeof value);
    out += sizeof value;
  };
  put(kValueMagic);
  put(static_cast<std::uint8_t>(info.type));
  put(info.dtype ? static_cast<std::uint8_t>(*info.dtype) : kNoDtype);
  put(static_cast<std::uint8_t>(info.shape.size()));
  put(std::uint8_t{0});
  put(stamp.creator_pid);
  put(stamp.created_unix_ns);
  put(static_cast<std::uint32_t>(stamp.description.size()));
  put(static_cast<std::uint32_t>(info.type_name.size()));
  for (const std::size_t extent : info.shape) {
    put(std::uint64_t{extent});
  }
  if (!stamp.description.empty()) {  // memcpy takes no null source, even for 0 bytes
    std::memcpy(out, stamp.description.data(), stamp.description.size());
  }
  out += stamp.description.size();
  std::memcpy(out, info.type_name.data(), info.type_name.size());
}

ValueInfo decode_value_metadata(std::span<const std::byte> metadata, std::uint64_t data_size) {
  ValueInfo info;
  info.size = data_size;
  FrameReader r(metadata);
  if (r.get<std::uint32_t>() != kValueMagic || !r.ok(false)) {
    return info;  // not a typed value: plain bytes
  }
  const auto type = r.get<std::uint8_t>();
  const auto dtype = r.get<std::uint8_t>();
  const auto ndim = r.get<std::uint8_t>();
  r.get<std::uint8_t>();
  info.creator_pid = r.get<std::int32_t>();
  info.created_unix_ns = r.get<std::int64_t>();
  const auto description_size = r.get<std::uint32_t>();
  const auto type_name_size = r.get<std::uint32_t>();
  for (std::uint8_t i = 0; i < ndim && r.ok(false); ++i) {
    info.shape.push_back(static_cast<std::size_t>(r.get<std::uint64_t>()));
  }
  const auto description = r.get_bytes(description_size);
  const auto type_name = r.get_bytes(type_name_size);
  const auto corrupt = [](const std::string& why) {
    return CorruptDataError("store value metadata is damaged: " + why);
  };
  // Bytes after the type name are extensions older readers skip (the
  // bridge's provenance trailer).
  if (!r.ok(false)) {
    throw corrupt("its fields run past its " + std::to_string(metadata.size()) + " bytes");
  }
  if (type < static_cast<std::uint8_t>(ValueType::bytes) || type > static_cast<std::uint8_t>(ValueType::config)) {
    throw corrupt("unknown value type " + std::to_string(type));
  }
  info.type = static_cast<ValueType>(type);
  info.description.assign(reinterpret_cast<const char*>(description.data()), description.size());
  info.type_name.assign(reinterpret_cast<const char*>(type_name.data()), type_name.size());
  const bool numeric = info.type == ValueType::scalar || info.type == ValueType::array;
  if (numeric) {
    if (dtype > static_cast<std::uint8_t>(Dtype::c16)) {
      throw corrupt("unknown dtype code " + std::to_string(dtype));
    }
    info.dtype = static_cast<Dtype>(dtype);
    // Bounded by the data size at every step (elements are at least a
    // byte), so the product cannot overflow.
    std::uint64_t elements = 1;
    for (const std::size_t extent : info.shape) {
      elements *= extent;
      if (elements > data_size && extent != 0) {
        throw corrupt(info.type_text() + " does not match its " + std::to_string(data_size) + " data bytes");
      }
    }
    if (ndim > kMaxDimensions || elements * dtype_size(*info.dtype) != data_size ||
        (info.type == ValueType::scalar && ndim != 0)) {
      throw corrupt(info.type_text() + " does not match its " + std::to_string(data_size) + " data bytes");
    }
  }
  return info;
}

void append_struct_image(std::vector<std::byte>& metadata, std::uint64_t fingerprint,
                         std::span<const std::byte> bytes) {
  const auto append = [&metadata](const auto& value) {
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    metadata.insert(metadata.end(), p, p + sizeof(value));
  };
  append(kImageMagic);
  append(fingerprint);
  append(static_cast<std::uint32_t>(bytes.size()));
  metadata.insert(metadata.end(), bytes.begin(), bytes.end());
}

std::optional<StructImage> find_struct_image(std::span<const std::byte> metadata) noexcept {
  if (metadata.size() < kFixedBytes || read_at<std::uint32_t>(metadata, 0) != kValueMagic) {
    return std::nullopt;
  }
  const std::uint64_t ndim = read_at<std::uint8_t>(metadata, 6);
  const std::uint64_t description = read_at<std::uint32_t>(metadata, 20);
  const std::uint64_t type_name = read_at<std::uint32_t>(metadata, 24);
  // Every term is below 2^33, so the sum cannot overflow.
  const std::uint64_t at = kFixedBytes + ndim * 8 + description + type_name;
  if (at > metadata.size() || metadata.size() - at < kImageHeaderBytes ||
      read_at<std::uint32_t>(metadata, at) != kImageMagic) {
    return std::nullopt;
  }
  const std::uint64_t size = read_at<std::uint32_t>(metadata, at + 12);
  if (size > metadata.size() - at - kImageHeaderBytes) {
    return std::nullopt;
  }
  return StructImage{read_at<std::uint64_t>(metadata, at + 4), metadata.subspan(at + kImageHeaderBytes, size)};
}

}  // namespace detail
}  // namespace shmkit
