#pragma once
/// @file
/// Struct images: the binary form of a config struct that `Brain` keeps in
/// an object's metadata beside the struct's YAML text.
///
/// Why: a get of a config struct would otherwise parse its YAML every time,
/// and yaml-cpp takes ~9 µs per field (a 60-field settings struct: 300-500
/// µs), while a set writes the YAML once. A reader built with the same
/// layout (the fingerprint below matches) reads the image instead; every
/// other reader (Python, the CLI, a program with another version of the
/// struct) reads the YAML, which stays the value.
///
/// Encoding, native byte order, no padding, members in described order
/// (excluded members are not written and keep their defaults, as with YAML):
///   numbers, enums, durations: their bytes (enum: the underlying integer;
///   duration: its count); bool: one byte; std::string, path: u64 length
///   and the bytes; std::optional: u8 present, then the value if present;
///   std::vector, std::map<std::string, T>: u64 count, then the items (map:
///   key then value); std::array: its items; a nested struct: its members.

#include <boost/core/type_name.hpp>
#include <boost/mp11/algorithm.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <shmkit/config/yaml_config.hpp>

namespace shmkit::detail {

template <class T>
inline constexpr bool kImageNumber = std::is_arithmetic_v<T> && !kIsCharacter<T> && !std::is_same_v<T, bool>;

/// True for every field type the YAML codec writes.
template <class T>
consteval bool image_fits() {
  if constexpr (kImageNumber<T> || std::is_same_v<T, bool> || std::is_same_v<T, std::string> ||
                std::is_same_v<T, std::filesystem::path> || kIsDescribedEnum<T>) {
    return true;
  } else if constexpr (kIsDuration<T>) {
    return kImageNumber<typename T::rep>;
  } else if constexpr (kIsStringMap<T>) {
    return image_fits<typename T::mapped_type>();
  } else if constexpr (kIsOptional<T> || kIsVector<T> || kIsStdArray<T>) {
    return image_fits<typename T::value_type>();
  } else if constexpr (kIsDescribedStruct<T>) {
    bool fits = true;
    boost::mp11::mp_for_each<MemberList<T>>([&](auto member) {
      fits = fits && image_fits<std::remove_cvref_t<decltype(std::declval<T&>().*decltype(member)::pointer)>>();
    });
    return fits;
  } else {
    return false;
  }
}

template <class T>
inline constexpr bool kHasImage = YamlStruct<T>&& image_fits<T>();

// ------------------------------------------------------------ fingerprint

/// Appends a description of T's image layout: the kind and size of every
/// field, the names of struct members and of enumerators with their values.
template <class T>
void describe_image_layout(std::string& out) {
  if constexpr (std::is_same_v<T, bool>) {
    out += 'b';
  } else if constexpr (kImageNumber<T>) {
    out += std::is_floating_point_v<T> ? 'f' : std::is_signed_v<T> ? 'i' : 'u';
    out += std::to_string(sizeof(T));
  } else if constexpr (std::is_same_v<T, std::string>) {
    out += 's';
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    out += 'p';
  } else if constexpr (kIsDescribedEnum<T>) {
    out += "e" + boost::core::type_name<T>() + std::to_string(sizeof(T)) + "(";
    static constexpr auto kNames = enumerator_names<T>();
    static constexpr auto kValues = enumerator_values<T>();
    for (std::size_t i = 0; i < kNames.size(); ++i) {
      out += std::string(kNames[i]) + "=" + std::to_string(static_cast<long long>(kValues[i])) + ",";
    }
    out += ')';
  } else if constexpr (kIsDuration<T>) {
    out += "d" + std::to_string(T::period::num) + "/" + std::to_string(T::period::den);
    describe_image_layout<typename T::rep>(out);
  } else if constexpr (kIsOptional<T>) {
    out += 'o';
    describe_image_layout<typename T::value_type>(out);
  } else if constexpr (kIsVector<T>) {
    out += 'v';
    describe_image_layout<typename T::value_type>(out);
  } else if constexpr (kIsStdArray<T>) {
    out += "a" + std::to_string(std::tuple_size_v<T>);
    describe_image_layout<typename T::value_type>(out);
  } else if constexpr (kIsStringMap<T>) {
    out += 'm';
    describe_image_layout<typename T::mapped_type>(out);
  } else {
    static_assert(kIsDescribedStruct<T>);
    out += "{" + boost::core::type_name<T>() + ":";
    boost::mp11::mp_for_each<MemberList<T>>([&](auto member) {
      using Member = decltype(member);
      if constexpr (!is_excluded<T>(Member::name)) {
        out += std::string(Member::name) + "=";
        describe_image_layout<std::remove_cvref_t<decltype(std::declval<T&>().*Member::pointer)>>(out);
        out += ',';
      }
    });
    out += '}';
  }
}

/// FNV-1a of T's image layout: two programs agree on it only when they lay
/// the image out the same way.
template <class T>
std::uint64_t compute_image_fingerprint() {
  std::string layout;
  describe_image_layout<T>(layout);
  std::uint64_t h = 1469598103934665603ULL;
  for (const char c : layout) {
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  return h;
}

// Computed as the program starts, for every struct type it sets or gets,
// rather than in its first set or get (5-10 µs for a 60-field struct).
template <class T>
inline const std::uint64_t kImageFingerprint = compute_image_fingerprint<T>();

template <class T>
std::uint64_t image_fingerprint() {
  // Zero only while static initialisers run, before this one has: a
  // fingerprint is never zero in practice, and computing it again is right.
  const std::uint64_t ready = kImageFingerprint<T>;
  return ready != 0 ? ready : compute_image_fingerprint<T>();
}

// ------------------------------------------------------------------ write

template <class N>
void append_image_bytes(std::vector<std::byte>& out, const N& number) {
  const auto* p = reinterpret_cast<const std::byte*>(&number);
  out.insert(out.end(), p, p + sizeof(N));
}

template <class T>
void append_image(std::vector<std::byte>& out, const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    out.push_back(value ? std::byte{1} : std::byte{0});
  } else if constexpr (kImageNumber<T> || kIsDescribedEnum<T>) {
    append_image_bytes(out, value);
  } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::filesystem::path>) {
    const std::string_view text = [&]() -> std::string_view {
      if constexpr (std::is_same_v<T, std::string>) {
        return value;
      } else {
        return value.native();
      }
    }();
    append_image_bytes(out, static_cast<std::uint64_t>(text.size()));
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    out.insert(out.end(), p, p + text.size());
  } else if constexpr (kIsDuration<T>) {
    append_image_bytes(out, value.count());
  } else if constexpr (kIsOptional<T>) {
    out.push_back(value ? std::byte{1} : std::byte{0});
    if (value) {
      append_image(out, *value);
    }
  } else if constexpr (kIsVector<T> || kIsStringMap<T>) {
    append_image_bytes(out, static_cast<std::uint64_t>(value.size()));
    for (const auto& item : value) {
      if constexpr (kIsStringMap<T>) {
        append_image(out, item.first);
        append_image(out, item.second);
      } else {
        append_image(out, static_cast<const typename T::value_type&>(item));  // vector<bool>'s proxy too
      }
    }
  } else if constexpr (kIsStdArray<T>) {
    for (const auto& item : value) {
      append_image(out, item);
    }
  } else {
    boost::mp11::mp_for_each<MemberList<T>>([&](auto member) {
      using Member = decltype(member);
      if constexpr (!is_excluded<T>(Member::name)) {
        append_image(out, value.*Member::pointer);
      }
    });
  }
}

/// The image of `value`.
template <class T>
[[nodiscard]] std::vector<std::byte> image_of(const T& value) {
  std::vector<std::byte> out;
  append_image(out, value);
  return out;
}

// ------------------------------------------------------------------- read

/// Reads an image front to back. The bytes come from shared memory that any
/// client could have written, so every length is checked against what is
/// left, and the first failure makes every later read fail too.
class ImageReader {
 public:
  explicit ImageReader(std::span<const std::byte> bytes) noexcept : bytes_(bytes) {}

  template <class N>
  bool number(N& out) noexcept {
    if (!ok_ || bytes_.size() - at_ < sizeof(N)) {
      return ok_ = false;
    }
    std::memcpy(&out, bytes_.data() + at_, sizeof(N));
    at_ += sizeof(N);
    return true;
  }

  bool flag(bool& out) noexcept {
    std::uint8_t byte = 0;
    if (!number(byte)) {
      return false;
    }
    out = byte != 0;  // any byte, not only 0 and 1
    return true;
  }

  // A count of items that follow: each takes at least a byte, so a count
  // above the bytes left is damage, not a reason to allocate.
  bool count(std::size_t& out) noexcept {
    std::uint64_t n = 0;
    if (!number(n) || n > bytes_.size() - at_) {
      return ok_ = false;
    }
    out = static_cast<std::size_t>(n);
    return true;
  }

  bool text(std::string& out) {
    std::size_t size = 0;
    if (!count(size)) {
      return false;
    }
    out.assign(reinterpret_cast<const char*>(bytes_.data() + at_), size);
    at_ += size;
    return true;
  }

  bool fail() noexcept { return ok_ = false; }
  [[nodiscard]] bool finished() const noexcept { return ok_ && at_ == bytes_.size(); }

 private:
  std::span<const std::byte> bytes_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

template <class T>
bool read_image(ImageReader& in, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    return in.flag(out);
  } else if constexpr (kImageNumber<T>) {
    return in.number(out);
  } else if constexpr (kIsDescribedEnum<T>) {
    std::underlying_type_t<T> raw{};
    if (!in.number(raw)) {
      return false;
    }
    static constexpr auto kValues = enumerator_values<T>();
    for (const T named : kValues) {
      if (static_cast<std::underlying_type_t<T>>(named) == raw) {
        out = named;
        return true;
      }
    }
    return in.fail();  // not an enumerator: the YAML decides
  } else if constexpr (std::is_same_v<T, std::string>) {
    return in.text(out);
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    std::string text;
    if (!in.text(text)) {
      return false;
    }
    out = std::move(text);
    return true;
  } else if constexpr (kIsDuration<T>) {
    typename T::rep count{};
    if (!in.number(count)) {
      return false;
    }
    out = T(count);
    return true;
  } else if constexpr (kIsOptional<T>) {
    bool present = false;
    if (!in.flag(present)) {
      return false;
    }
    if (!present) {
      out.reset();
      return true;
    }
    return read_image(in, out.emplace());
  } else if constexpr (kIsVector<T>) {
    std::size_t size = 0;
    if (!in.count(size)) {
      return false;
    }
    out.clear();
    out.reserve(size);
    for (std::size_t i = 0; i < size; ++i) {
      typename T::value_type item{};
      if (!read_image(in, item)) {
        return false;
      }
      out.push_back(std::move(item));
    }
    return true;
  } else if constexpr (kIsStringMap<T>) {
    std::size_t size = 0;
    if (!in.count(size)) {
      return false;
    }
    out.clear();
    for (std::size_t i = 0; i < size; ++i) {
      std::string key;
      typename T::mapped_type item{};
      if (!in.text(key) || !read_image(in, item)) {
        return false;
      }
      out.insert_or_assign(std::move(key), std::move(item));
    }
    return true;
  } else if constexpr (kIsStdArray<T>) {
    for (auto& item : out) {
      if (!read_image(in, item)) {
        return false;
      }
    }
    return true;
  } else {
    bool ok = true;
    boost::mp11::mp_for_each<MemberList<T>>([&](auto member) {
      using Member = decltype(member);
      if constexpr (!is_excluded<T>(Member::name)) {
        ok = ok && read_image(in, out.*Member::pointer);
      }
    });
    return ok;
  }
}

/// The struct read from `image`, or nullopt when the bytes do not form one
/// (the caller then reads the YAML).
template <class T>
[[nodiscard]] std::optional<T> from_image(std::span<const std::byte> image) {
  T out{};
  ImageReader in(image);
  if (!read_image(in, out) || !in.finished()) {
    return std::nullopt;
  }
  return out;
}

}  // namespace shmkit::detail
