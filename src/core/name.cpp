#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>

#include <string>

namespace shmkit {

namespace {

constexpr bool is_name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

std::string printable(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7f) {
    return std::string("'") + c + "'";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[byte >> 4] + kHex[byte & 0xf];
}

}  // namespace

bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxNameLength || name.front() == '.') {
    return false;
  }
  for (const char c : name) {
    if (!is_name_char(c)) {
      return false;
    }
  }
  return true;
}

void validate_name(std::string_view name, std::string_view what) {
  // Every store lookup validates its names: a valid one costs no allocation.
  if (is_valid_name(name)) {
    return;
  }
  const std::string prefix = "invalid " + std::string(what) + " name '" + std::string(name) + "': ";
  if (name.empty()) {
    throw NameError("invalid " + std::string(what) + " name: the name is empty; use 1 to " +
                    std::to_string(kMaxNameLength) + " characters from [A-Za-z0-9._-]");
  }
  if (name.size() > kMaxNameLength) {
    throw NameError(prefix + "it is " + std::to_string(name.size()) + " characters long; the limit is " +
                    std::to_string(kMaxNameLength));
  }
  if (name.front() == '.') {
    throw NameError(prefix + "it starts with '.'; names may not start with a dot");
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!is_name_char(name[i])) {
      throw NameError(prefix + "character " + printable(name[i]) + " at position " + std::to_string(i) +
                      " is not allowed; use only letters, digits, '.', '_' and '-'");
    }
  }
}

}  // namespace shmkit
