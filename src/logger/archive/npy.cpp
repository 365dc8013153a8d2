#include <shmkit/core/error.hpp>
#include <shmkit/logger/npy.hpp>

#include <charconv>
#include <cstring>
#include <string_view>

namespace shmkit {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr std::size_t kAlign = 64;
// numpy (>= 1.23) leaves room for the growth axis to reach this many digits.
constexpr std::size_t kGrowthAxisMaxDigits = 21;

[[noreturn]] void fail(const std::string& what, const std::string& problem) {
  throw CorruptDataError(what + " is not a 1-D uint8 .npy array: " + problem);
}

std::string_view dict_value(std::string_view dict, std::string_view key) {
  const std::string quoted = "'" + std::string(key) + "':";
  const auto at = dict.find(quoted);
  if (at == std::string_view::npos) {
    return {};
  }
  std::string_view rest = dict.substr(at + quoted.size());
  while (!rest.empty() && rest.front() == ' ') {
    rest.remove_prefix(1);
  }
  return rest;
}

}  // namespace

std::string npy_u1_header(std::uint64_t length) {
  // Mirrors numpy.lib.format._write_array_header + _wrap_header for version 1.0.
  const std::string count = std::to_string(length);
  std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + count + ",), }";
  if (count.size() < kGrowthAxisMaxDigits) {
    dict.append(kGrowthAxisMaxDigits - count.size(), ' ');
  }
  const std::size_t hlen = dict.size() + 1;
  const std::size_t padlen = kAlign - ((kMagic.size() + 2 + 2 + hlen) % kAlign);
  const std::size_t header_len = hlen + padlen;
  std::string header;
  header.reserve(10 + header_len);
  header.append(kMagic);
  header.push_back('\x01');
  header.push_back('\x00');
  header.push_back(static_cast<char>(header_len & 0xff));
  header.push_back(static_cast<char>((header_len >> 8) & 0xff));
  header.append(dict);
  header.append(padlen, ' ');
  header.push_back('\n');
  return header;
}

NpyU1Layout parse_npy_u1_header(std::span<const std::byte> bytes, const std::string& what) {
  const auto* text = reinterpret_cast<const char*>(bytes.data());
  if (bytes.size() < 10 || std::string_view(text, kMagic.size()) != kMagic) {
    fail(what, "missing the \\x93NUMPY magic");
  }
  const auto major = static_cast<unsigned char>(text[6]);
  std::size_t prefix = 0;
  std::size_t dict_len = 0;
  if (major == 1) {
    prefix = 10;
    dict_len =
        static_cast<unsigned char>(text[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(text[9])) << 8);
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) {
      fail(what, "truncated header");
    }
    prefix = 12;
    dict_len = 0;
    for (int i = 3; i >= 0; --i) {
      dict_len = (dict_len << 8) | static_cast<unsigned char>(text[8 + i]);
    }
  } else {
    fail(what, "unsupported format version " + std::to_string(major));
  }
  if (bytes.size() < prefix + dict_len) {
    fail(what,
         "truncated header (" + std::to_string(bytes.size()) + " of " + std::to_string(prefix + dict_len) + " bytes)");
  }
  const std::string_view dict(text + prefix, dict_len);
  const std::string_view descr = dict_value(dict, "descr");
  if (descr.substr(0, 5) != "'|u1'" && descr.substr(0, 5) != "'<u1'" && descr.substr(0, 5) != "'>u1'") {
    fail(what, "dtype is not uint8");
  }
  if (dict_value(dict, "fortran_order").substr(0, 5) != "False") {
    // A 1-D array is the same in either order, but numpy writes False for it.
    if (dict_value(dict, "fortran_order").substr(0, 4) != "True") {
      fail(what, "missing fortran_order");
    }
  }
  std::string_view shape = dict_value(dict, "shape");
  if (shape.empty() || shape.front() != '(') {
    fail(what, "missing shape");
  }
  shape.remove_prefix(1);
  std::uint64_t length = 0;
  const auto [end, ec] = std::from_chars(shape.data(), shape.data() + shape.size(), length);
  const auto remaining = static_cast<std::size_t>(shape.data() + shape.size() - end);
  if (ec != std::errc() || remaining < 2 || std::string_view(end, 2) != ",)") {
    fail(what, "shape is not one-dimensional");
  }
  return {prefix + dict_len, length};
}

}  // namespace shmkit
