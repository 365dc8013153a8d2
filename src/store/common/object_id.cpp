#include <shmkit/core/error.hpp>
#include <shmkit/store/object_id.hpp>

#include <algorithm>

namespace shmkit {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

ObjectId ObjectId::from_hex(std::string_view hex) {
  if (hex.size() != 2 * kSize) {
    throw NameError("object id '" + std::string(hex) + "' has " + std::to_string(hex.size()) +
                    " characters; give exactly 40 hexadecimal characters");
  }
  ObjectId id;
  for (std::size_t i = 0; i < hex.size(); ++i) {
    const int v = hex_value(hex[i]);
    if (v < 0) {
      throw NameError("object id '" + std::string(hex) + "' has '" + std::string(1, hex[i]) + "' at position " +
                      std::to_string(i + 1) + "; only 0-9 and a-f are allowed");
    }
    id.bytes[i / 2] = static_cast<std::uint8_t>(id.bytes[i / 2] | (v << (i % 2 == 0 ? 4 : 0)));
  }
  return id;
}

ObjectId ObjectId::from_bytes(std::string_view raw) noexcept {
  ObjectId id;
  std::copy_n(raw.begin(), std::min(raw.size(), kSize), id.bytes.begin());
  return id;
}

std::string ObjectId::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(2 * kSize, '0');
  for (std::size_t i = 0; i < kSize; ++i) {
    text[2 * i] = kDigits[bytes[i] >> 4];
    text[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return text;
}

}  // namespace shmkit
