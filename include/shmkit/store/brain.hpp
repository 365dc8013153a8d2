#pragma once
/// @file
/// A map-like client of the store for typed, named values in a namespace:
///
/// ```cpp
/// auto brain = shmkit::Brain::connect("/tmp/rig.sock", "exp1");
/// brain.set("frame_rate", 30.0);                    // float64 scalar
/// brain.set("animal", std::string("mouse-7"));      // string
/// brain.set("roi", xt::xarray<std::uint16_t>{...}); // array
/// brain.set("camera", camera_config);               // described config struct
/// double rate = brain.get<double>("frame_rate");    // from any process
/// auto roi = brain.get_array<std::uint16_t>("roi"); // zero-copy, read-only
/// ```
///
/// Every `set` publishes a new object and rebinds the name to it in one
/// step: readers see the old value or the new one, never a missing or
/// half-written one, and a reader holding the old value keeps it until it
/// lets go. Concurrent setters of one name: the last one wins. A set of a
/// name that exists writes the value into shared memory and rebinds the
/// name there, with no round trip to the server (docs/STORE_FAST_WRITES.md);
/// a name's first set, values larger than a quarter of the client's slab,
/// and every set of a store run with `--persist` take one. `get` reads the
/// shared name index and the object directly, without one.
///
/// Types (see value.hpp for the stored layout): `std::string` (and string
/// literals / views), arithmetic scalars and std::complex, `std::vector` of
/// those (a 1-D array), xtensor expressions (N-d arrays, C order), described
/// config structs (as YAML), and raw bytes (`set_bytes`, `get_bytes`).
/// Reading a value as another type is a TypeError naming both types.
///
/// Thread safety: as StoreClient (one Brain may be used from many threads,
/// except for `set_namespace`). Fork: connect a new Brain in the child.

#include <sys/types.h>
#include <boost/core/type_name.hpp>
#include <boost/mp11/algorithm.hpp>

#include <atomic>
#include <chrono>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xeval.hpp>
#include <xtensor/xtensor.hpp>

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/core/dtype.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>
#include <shmkit/store/struct_image.hpp>
#include <shmkit/store/value.hpp>

namespace shmkit {

/// A zero-copy, read-only array value: an xtensor view over the object in
/// the store's shared memory. Holds a reference to the object, so the
/// bytes stay valid (even after the name is rebound) until it is destroyed
/// or released.
template <ArrayElement T>
class ArrayValue {
 public:
  using View = decltype(xt::adapt(std::declval<const T*>(), std::size_t{}, xt::no_ownership(),
                                  std::declval<std::vector<std::size_t>>()));

  ArrayValue(ObjectBuffer buffer, ValueInfo info) noexcept : buffer_(std::move(buffer)), info_(std::move(info)) {}

  /// The array as xtensor sees it; writing through it does not compile.
  [[nodiscard]] View view() const { return xt::adapt(data(), size(), xt::no_ownership(), info_.shape); }
  /// The first element; the memory is mapped read-only.
  [[nodiscard]] const T* data() const noexcept { return reinterpret_cast<const T*>(buffer_.data().data()); }
  [[nodiscard]] std::size_t size() const noexcept { return buffer_.data().size() / sizeof(T); }
  [[nodiscard]] const std::vector<std::size_t>& shape() const noexcept { return info_.shape; }
  [[nodiscard]] const ValueInfo& info() const noexcept { return info_; }
  /// Drops the reference; the view must not be used afterwards.
  void release() noexcept { buffer_.release(); }

 private:
  ObjectBuffer buffer_;
  ValueInfo info_;
};

namespace detail {

template <class T>
inline constexpr bool kIsVectorOfElements = false;
template <ArrayElement E>
inline constexpr bool kIsVectorOfElements<std::vector<E>> = !std::is_same_v<E, bool>;  // vector<bool> is packed

// The xtensor containers `get` can copy an array into.
template <class T>
struct XtensorTarget : std::false_type {};
template <ArrayElement E>
struct XtensorTarget<xt::xarray<E>> : std::true_type {
  using element = E;
  static constexpr std::size_t rank = 0;  // any
};
template <ArrayElement E, std::size_t N>
struct XtensorTarget<xt::xtensor<E, N>> : std::true_type {
  using element = E;
  static constexpr std::size_t rank = N;
};

/// The name Brain records for config struct T (boost::core::type_name),
/// demangled once: demangling takes ~1 us a call, and 20-30 us the first
/// time in a process (the demangler's code is cold), which would otherwise
/// land in every set of a struct and in the first get.
template <class T>
const std::string& config_type_name() {
  static const std::string name = boost::core::type_name<T>();
  return name;
}

// Named as the program starts, for every struct type it sets or gets
// (referencing it is what instantiates it), as kImageFingerprint is.
template <class T>
inline const bool kConfigTypeNamed = !config_type_name<T>().empty();

/// A value ready to store: its bytes (pointing into the caller's value
/// where it is contiguous already, else into `owned`) and its type.
struct EncodedValue {
  std::span<const std::byte> data;
  std::vector<std::byte> owned;
  ValueInfo info;
  // Config structs: their binary image (struct_image.hpp), kept in the
  // metadata beside the YAML text (empty for everything else).
  std::vector<std::byte> image;
  std::uint64_t image_fingerprint = 0;

  EncodedValue() = default;
  EncodedValue(EncodedValue&& other) noexcept = default;
  EncodedValue& operator=(EncodedValue&& other) noexcept = default;
  EncodedValue(const EncodedValue&) = delete;
  EncodedValue& operator=(const EncodedValue&) = delete;

  void own(std::vector<std::byte> bytes) noexcept {
    owned = std::move(bytes);  // moving a vector keeps its buffer, so `data` stays valid
    data = owned;
  }

  // Copies bytes that still point into the caller's value, for a value that
  // outlives the call it was encoded in.
  void detach() {
    if (data.data() != owned.data() || data.size() != owned.size()) {
      own(std::vector<std::byte>(data.begin(), data.end()));
    }
  }
};

template <class T>
std::span<const std::byte> bytes_of(const T* first, std::size_t count) noexcept {
  return {reinterpret_cast<const std::byte*>(first), count * sizeof(T)};
}

template <class T>
[[nodiscard]] EncodedValue encode_value(const T& value) {
  using U = std::remove_cvref_t<T>;
  EncodedValue out;
  if constexpr (std::is_convertible_v<const U&, std::string_view>) {
    const std::string_view text = value;
    out.data = bytes_of(text.data(), text.size());
    out.info.type = ValueType::string;
  } else if constexpr (ArrayElement<U>) {
    out.data = bytes_of(&value, 1);
    out.info.type = ValueType::scalar;
    out.info.dtype = dtype_of<U>;
  } else if constexpr (kIsVectorOfElements<U>) {
    out.data = bytes_of(value.data(), value.size());
    out.info.type = ValueType::array;
    out.info.dtype = dtype_of<typename U::value_type>;
    out.info.shape = {value.size()};
  } else if constexpr (xt::is_xexpression<U>::value) {
    using E = std::remove_cv_t<typename U::value_type>;
    static_assert(ArrayElement<E>, "store arrays hold bool, fixed-width integers, float, double or std::complex");
    // One C-order copy when the expression is not a C-order container.
    auto&& evaluated = xt::eval(value);
    using Evaluated = std::remove_cvref_t<decltype(evaluated)>;
    out.info.type = ValueType::array;
    out.info.dtype = dtype_of<E>;
    out.info.shape.assign(evaluated.shape().begin(), evaluated.shape().end());
    if constexpr (Evaluated::static_layout == xt::layout_type::row_major) {
      if constexpr (std::is_lvalue_reference_v<decltype(evaluated)>) {
        out.data = bytes_of(evaluated.data(), evaluated.size());
        return out;
      }
    }
    const xt::xarray<E, xt::layout_type::row_major> c_order = evaluated;
    out.own(std::vector<std::byte>(bytes_of(c_order.data(), c_order.size()).begin(),
                                   bytes_of(c_order.data(), c_order.size()).end()));
  } else if constexpr (YamlStruct<U>) {
    const std::string yaml = to_yaml_string(value);
    out.own(
        std::vector<std::byte>(bytes_of(yaml.data(), yaml.size()).begin(), bytes_of(yaml.data(), yaml.size()).end()));
    out.info.type = ValueType::config;
    static_cast<void>(kConfigTypeNamed<U>);
    out.info.type_name = config_type_name<U>();
    if constexpr (kHasImage<U>) {
      out.image = image_of(value);
      out.image_fingerprint = image_fingerprint<U>();
    }
  } else {
    static_assert(sizeof(U) == 0,
                  "Brain::set stores strings, arithmetic scalars, std::vector of them, xtensor arrays and described "
                  "config structs; use set_bytes for raw bytes");
  }
  return out;
}

/// The value a get is about; put into words only for an error, so a get
/// that succeeds builds no message.
struct ValueName {
  std::string_view ns;
  std::string_view name;
  [[nodiscard]] std::string text() const;
};

/// The TypeError for reading `info` as `wanted`.
[[noreturn]] void throw_wrong_type(const ValueName& what, const ValueInfo& info, const std::string& wanted);

/// Checks an array value against the element type and rank asked for.
void check_array(const ValueName& what, const ValueInfo& info, Dtype dtype, std::size_t rank);

template <class T>
[[nodiscard]] T decode_value(const ValueName& what, const ValueInfo& info, std::span<const std::byte> data,
                             std::span<const std::byte> metadata = {}) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (info.type != ValueType::string) {
      throw_wrong_type(what, info, "string");
    }
    return {reinterpret_cast<const char*>(data.data()), data.size()};
  } else if constexpr (ArrayElement<T>) {
    if (info.type != ValueType::scalar || info.dtype != dtype_of<T>) {
      throw_wrong_type(what, info, std::string(dtype_name(dtype_of<T>)) + " scalar");
    }
    T value{};
    std::memcpy(&value, data.data(), sizeof(T));
    return value;
  } else if constexpr (kIsVectorOfElements<T>) {
    using E = typename T::value_type;
    check_array(what, info, dtype_of<E>, 1);
    T out(data.size() / sizeof(E));
    if (!out.empty()) {
      std::memcpy(out.data(), data.data(), data.size());
    }
    return out;
  } else if constexpr (XtensorTarget<T>::value) {
    using E = typename XtensorTarget<T>::element;
    check_array(what, info, dtype_of<E>, XtensorTarget<T>::rank);
    T out = xt::adapt(reinterpret_cast<const E*>(data.data()), data.size() / sizeof(E), xt::no_ownership(), info.shape);
    return out;
  } else if constexpr (YamlStruct<T>) {
    static_cast<void>(kConfigTypeNamed<T>);
    const std::string& wanted = config_type_name<T>();
    if (info.type != ValueType::config || info.type_name != wanted) {
      throw_wrong_type(what, info, "config " + wanted);
    }
    if constexpr (kHasImage<T>) {
      if (const std::optional<StructImage> image = find_struct_image(metadata);
          image && image->fingerprint == image_fingerprint<T>()) {
        if (std::optional<T> value = from_image<T>(image->bytes)) {
          return std::move(*value);
        }
      }
    }
    return from_yaml_string<T>({reinterpret_cast<const char*>(data.data()), data.size()});
  } else {
    static_assert(sizeof(T) == 0,
                  "Brain::get reads std::string, arithmetic scalars, std::vector of them, xt::xarray / xt::xtensor "
                  "and described config structs; use get_bytes for raw bytes and get_array for a zero-copy view");
  }
}

}  // namespace detail

/// A typed value with its name, for `Brain::set_many`.
struct NamedValue {
  std::string name;
  detail::EncodedValue value;
  std::string description;

  /// Copies `v`'s bytes: the NamedValue may outlive `v`.
  template <class T>
  NamedValue(std::string value_name, const T& v, std::string text = {})
      : name(std::move(value_name)), value(detail::encode_value(v)), description(std::move(text)) {
    value.detach();
  }
};

/// Typed, named values in one namespace of a store.
class Brain {
 public:
  /// Connects to the store server at `socket_path` and works in namespace `ns`.
  /// @throws NameError (bad namespace), TimeoutError, Error (as StoreClient::connect)
  [[nodiscard]] static Brain connect(const std::string& socket_path, std::string ns = "default",
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

  /// Works in namespace `ns` over an existing connection.
  /// @throws NameError
  Brain(StoreClient client, std::string ns);

  Brain(Brain&& other) noexcept;
  Brain& operator=(Brain&& other) noexcept;
  Brain(const Brain&) = delete;
  Brain& operator=(const Brain&) = delete;
  ~Brain();

  /// Stores `value` under `name`, replacing any earlier value atomically.
  /// `description` is kept with it (see `metadata`).
  /// @throws NameError, StoreFullError (pinned objects leave no room), Error
  ///         (name limit, persistence refused the write), ConfigError (a
  ///         config struct that cannot be written as YAML)
  template <class T>
  void set(const std::string& name, const T& value, std::string_view description = {}) {
    const detail::EncodedValue encoded = detail::encode_value(value);
    put(name, encoded, description);
  }

  /// Stores raw bytes under `name` (type `bytes`).
  void set_bytes(const std::string& name, std::span<const std::byte> bytes, std::string_view description = {});

  /// Stores several values: each as `set` does, and those that need the
  /// server (see above) in one round trip. Each is set or not on its own;
  /// the first failure is thrown after all were tried.
  void set_many(std::span<const NamedValue> values);

  /// The value of `name` as a `T` (copied out of shared memory), waiting up
  /// to `timeout` for some process to set it (0: do not wait; negative:
  /// forever).
  /// @throws NotFoundError (not set, timeout 0), TimeoutError (not set in
  ///         time), TypeError (stored as another type: the message names both)
  template <class T>
  [[nodiscard]] T get(const std::string& name, std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    const ObjectBuffer buffer = fetch(name, timeout);
    const ValueInfo info = detail::decode_value_metadata(buffer.metadata(), buffer.data().size());
    return detail::decode_value<T>({ns_, name}, info, buffer.data(), buffer.metadata());
  }

  /// `get` that returns nullopt instead of throwing when `name` is not set.
  template <class T>
  [[nodiscard]] std::optional<T> try_get(const std::string& name) {
    std::optional<ObjectBuffer> buffer = try_fetch(name);
    if (!buffer) {
      return std::nullopt;
    }
    const ValueInfo info = detail::decode_value_metadata(buffer->metadata(), buffer->data().size());
    return detail::decode_value<T>({ns_, name}, info, buffer->data(), buffer->metadata());
  }

  /// The array value of `name` without copying it: a read-only view over
  /// shared memory. @throws as `get`; TypeError unless it is an array (or
  /// scalar) of element type `T`
  template <ArrayElement T>
  [[nodiscard]] ArrayValue<T> get_array(const std::string& name,
                                        std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    ObjectBuffer buffer = fetch(name, timeout);
    ValueInfo info = detail::decode_value_metadata(buffer.metadata(), buffer.data().size());
    if (info.type == ValueType::scalar && info.dtype == dtype_of<T>) {
      info.type = ValueType::array;  // a scalar is a 0-d array
    }
    detail::check_array({ns_, name}, info, dtype_of<T>, 0);
    info.id = buffer.id();
    return ArrayValue<T>(std::move(buffer), std::move(info));
  }

  /// The raw bytes of `name`, whatever its type.
  [[nodiscard]] std::vector<std::byte> get_bytes(const std::string& name,
                                                 std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  /// The object behind `name` (data and metadata, read-only, zero-copy).
  [[nodiscard]] ObjectBuffer get_buffer(const std::string& name,
                                        std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  /// Values of many names of one type; `timeout` applies to each.
  template <class T>
  [[nodiscard]] std::vector<T> get_many(std::span<const std::string> names,
                                        std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
    std::vector<T> values;
    values.reserve(names.size());
    for (const std::string& name : names) {
      values.push_back(get<T>(name, timeout));
    }
    return values;
  }

  /// Type, size, creator, time and description of `name`'s value.
  /// @throws NotFoundError
  [[nodiscard]] ValueInfo metadata(const std::string& name);

  /// True when `name` is set (no round trip).
  [[nodiscard]] bool contains(const std::string& name);
  /// Removes `name`; its object goes once no reader holds it.
  /// @returns false if it was not set
  bool erase(const std::string& name);
  /// Names in this namespace starting with `prefix`, in byte order.
  [[nodiscard]] std::vector<std::string> names(const std::string& prefix = {});
  /// Number of names in this namespace.
  [[nodiscard]] std::size_t size();
  /// Removes every name of this namespace (and objects only they referred to).
  std::uint64_t clear();

  /// Switches to another namespace. Not thread-safe against other calls.
  /// @throws NameError
  void set_namespace(std::string ns);
  [[nodiscard]] const std::string& current_namespace() const noexcept { return ns_; }

  [[nodiscard]] std::uint64_t capacity() const noexcept { return client_.capacity(); }
  [[nodiscard]] std::uint64_t used() const noexcept { return client_.used(); }
  [[nodiscard]] std::uint64_t free() const noexcept { return client_.free(); }

  /// The connection underneath, for object-level operations.
  [[nodiscard]] StoreClient& client() noexcept { return client_; }

 private:
  void put(const std::string& name, const detail::EncodedValue& value, std::string_view description);
  void encode_metadata(const detail::EncodedValue& value, std::string_view description,
                       std::vector<std::byte>& out) const;
  [[nodiscard]] ObjectBuffer fetch(const std::string& name, std::chrono::milliseconds timeout);
  [[nodiscard]] std::optional<ObjectBuffer> try_fetch(const std::string& name);
  [[nodiscard]] std::string describe(const std::string& name) const;
  [[nodiscard]] ObjectId next_id() noexcept;

  static constexpr std::size_t kKeptMetadataBytes = std::size_t{64} << 10;

  StoreClient client_;
  std::string ns_;
  std::uint64_t id_prefix_ = 0;
  std::atomic<std::uint64_t> id_counter_{0};
};

}  // namespace shmkit
