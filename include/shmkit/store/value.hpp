#pragma once
/// @file
/// Typed values in the store: the description `Brain` writes into an
/// object's metadata, so that any process can tell a float64 scalar from a
/// uint16 array or a config struct, and refuses to read one as the other.
///
/// Metadata layout, version 1 (little-endian):
///   u32 magic "SKV1", u8 type, u8 dtype (0xff: none), u8 ndim, u8 zero,
///   i32 creator pid, i64 creation time (Unix ns), u32 description bytes,
///   u32 type-name bytes, u64 shape[ndim], description, type name, then
///   optional extensions that readers skip (the bridge appends the origin
///   of a value it imported; see bridge.hpp).
/// The object's data is the value itself: the bytes; the UTF-8 text; the
/// scalar or the C-order array elements (native little-endian, numpy's
/// layout for the dtype); or a config struct's YAML text.
/// Objects without this metadata (put with the plain StoreClient) read as
/// `bytes`.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <shmkit/core/dtype.hpp>
#include <shmkit/store/object_id.hpp>

namespace shmkit {

/// What kind of value an object holds.
enum class ValueType : std::uint8_t {
  bytes = 1,   ///< raw bytes (also any object without typed metadata)
  string = 2,  ///< UTF-8 text
  scalar = 3,  ///< one number of `dtype`
  array = 4,   ///< an N-d array of `dtype` and `shape`, C order
  config = 5,  ///< a described config struct as YAML text; `type_name` names the struct
};

/// A stored value's type and provenance, as `Brain::metadata` reports it.
struct ValueInfo {
  ValueType type = ValueType::bytes;
  std::optional<Dtype> dtype;      ///< scalars and arrays
  std::vector<std::size_t> shape;  ///< arrays (empty for the others)
  std::string type_name;           ///< configs: the C++ struct's name
  std::string description;         ///< free text given to `set`
  pid_t creator_pid = 0;           ///< the process that set it
  std::int64_t created_unix_ns = 0;
  std::uint64_t size = 0;  ///< bytes of data
  ObjectId id;             ///< the object holding it (filled by Brain)

  /// "float64 scalar", "uint16 array of shape (4, 512, 512)",
  /// "config CameraConfig", "string", "bytes".
  [[nodiscard]] std::string type_text() const;
};

namespace detail {

/// The metadata bytes for `info` (everything but `size` and `id`), in one
/// allocation with room for a struct image of `image_bytes` appended later
/// (`append_struct_image`).
[[nodiscard]] std::vector<std::byte> encode_value_metadata(const ValueInfo& info, std::size_t image_bytes = 0);

/// What a set stamps on a value: its description, creator and time. Kept
/// apart from ValueInfo so a set need not copy one to fill them in.
struct ValueStamp {
  std::string_view description;
  std::int32_t creator_pid = 0;
  std::int64_t created_unix_ns = 0;
};

/// `encode_value_metadata` into `out` (replacing its contents, reusing its
/// capacity), with `stamp` in place of info's description, pid and time.
void encode_value_metadata_into(std::vector<std::byte>& out, const ValueInfo& info, const ValueStamp& stamp,
                                std::size_t image_bytes = 0);

/// Reads metadata written by `encode_value_metadata`; other metadata (or
/// none) gives a `bytes` value. `data_size` becomes `size`.
/// @throws CorruptDataError (typed metadata whose fields do not fit the data)
[[nodiscard]] ValueInfo decode_value_metadata(std::span<const std::byte> metadata, std::uint64_t data_size);

/// The binary image of a config struct that Brain keeps beside its YAML
/// text (see `Brain::set`): a fingerprint of the struct's described layout
/// and the bytes of its members, one after the other.
struct StructImage {
  std::uint64_t fingerprint = 0;
  std::span<const std::byte> bytes;
};

/// Appends `bytes` with `fingerprint` to metadata from
/// `encode_value_metadata`, as an extension older readers skip.
void append_struct_image(std::vector<std::byte>& metadata, std::uint64_t fingerprint, std::span<const std::byte> bytes);

/// The struct image that `metadata` carries right after its fixed fields,
/// or nullopt (none, or metadata that is not typed). Bounds-checked: any
/// bytes give nullopt or a span inside `metadata`.
[[nodiscard]] std::optional<StructImage> find_struct_image(std::span<const std::byte> metadata) noexcept;

}  // namespace detail
}  // namespace shmkit
