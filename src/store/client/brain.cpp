#include <shmkit/core/name.hpp>
#include <shmkit/core/process.hpp>
#include <shmkit/store/brain.hpp>

#include <unistd.h>

#include <chrono>
#include <random>

namespace shmkit {

namespace detail {

std::string ValueName::text() const {
  return "store value '" + std::string(name) + "' in namespace '" + std::string(ns) + "'";
}

void throw_wrong_type(const ValueName& what, const ValueInfo& info, const std::string& wanted) {
  throw TypeError(what.text() + " holds a " + info.type_text() + ", not a " + wanted +
                  "; read it as the type it was set with (Brain::metadata tells)");
}

void check_array(const ValueName& what, const ValueInfo& info, Dtype dtype, std::size_t rank) {
  if (info.type != ValueType::array || info.dtype != dtype || (rank != 0 && info.shape.size() != rank)) {
    throw_wrong_type(what, info,
                     std::string(dtype_name(dtype)) + " array" +
                         (rank == 0 ? std::string() : " of " + std::to_string(rank) + " dimension(s)"));
  }
}

}  // namespace detail

Brain Brain::connect(const std::string& socket_path, std::string ns, std::chrono::milliseconds timeout) {
  validate_name(ns, "store namespace");
  return Brain(StoreClient::connect(socket_path, timeout), std::move(ns));
}

Brain::Brain(StoreClient client, std::string ns) : client_(std::move(client)), ns_(std::move(ns)) {
  validate_name(ns_, "store namespace");
  // Ids are [pid][random][counter]: unique among the processes of one
  // machine without asking the server for them.
  std::random_device random;
  id_prefix_ = (static_cast<std::uint64_t>(random()) << 32) | random();
}

Brain::Brain(Brain&& other) noexcept
    : client_(std::move(other.client_)),
      ns_(std::move(other.ns_)),
      id_prefix_(other.id_prefix_),
      id_counter_(other.id_counter_.load()) {}

Brain& Brain::operator=(Brain&& other) noexcept {
  if (this != &other) {
    client_ = std::move(other.client_);
    ns_ = std::move(other.ns_);
    id_prefix_ = other.id_prefix_;
    id_counter_.store(other.id_counter_.load());
  }
  return *this;
}

Brain::~Brain() = default;

ObjectId Brain::next_id() noexcept {
  ObjectId id;
  const auto pid = static_cast<std::uint32_t>(current_pid());
  const std::uint64_t counter = id_counter_.fetch_add(1, std::memory_order_relaxed);
  std::memcpy(id.bytes.data(), &pid, 4);
  std::memcpy(id.bytes.data() + 4, &id_prefix_, 8);
  std::memcpy(id.bytes.data() + 12, &counter, 8);
  return id;
}

std::string Brain::describe(const std::string& name) const {
  return detail::ValueName{ns_, name}.text();
}

void Brain::encode_metadata(const detail::EncodedValue& value, std::string_view description,
                            std::vector<std::byte>& out) const {
  const detail::ValueStamp stamp{
      description, current_pid(),
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count()};
  detail::encode_value_metadata_into(out, value.info, stamp, value.image.size());
  if (!value.image.empty()) {
    detail::append_struct_image(out, value.image_fingerprint, value.image);
  }
}

void Brain::put(const std::string& name, const detail::EncodedValue& value, std::string_view description) {
  // Reused by every set of this thread: a set that follows a quiet spell
  // runs with cold caches, where a malloc and free of the metadata cost
  // microseconds (BM_Store_SetAfterIdle). One buffer per thread, because
  // one Brain may be used from several threads at once.
  thread_local std::vector<std::byte> metadata;
  encode_metadata(value, description, metadata);
  client_.put_named(ns_, name, next_id(), value.data, metadata);
  if (metadata.capacity() > kKeptMetadataBytes) {
    metadata = {};  // a large struct image is not kept for the thread's life
  }
}

void Brain::set_bytes(const std::string& name, std::span<const std::byte> bytes, std::string_view description) {
  detail::EncodedValue value;
  value.data = bytes;
  value.info.type = ValueType::bytes;
  put(name, value, description);
}

void Brain::set_many(std::span<const NamedValue> values) {
  std::vector<std::vector<std::byte>> metadata;
  metadata.reserve(values.size());
  std::vector<NamedObject> objects;
  objects.reserve(values.size());
  for (const NamedValue& v : values) {
    encode_metadata(v.value, v.description, metadata.emplace_back());
    objects.push_back(NamedObject{ns_, v.name, next_id(), v.value.data, metadata.back()});
  }
  client_.put_named(objects);
}

ObjectBuffer Brain::fetch(const std::string& name, std::chrono::milliseconds timeout) {
  if (timeout.count() == 0) {
    if (std::optional<ObjectBuffer> buffer = try_fetch(name)) {
      return std::move(*buffer);
    }
    throw NotFoundError(describe(name) + " is not set; set it first (or wait for it with a timeout)");
  }
  return client_.get_named(ns_, name, timeout);
}

std::optional<ObjectBuffer> Brain::try_fetch(const std::string& name) {
  // A miss means a concurrent set replaced the object after the lookup: the
  // name now refers to a newer one. Only a damaged object index (a client
  // writing over it) makes a miss repeat without end.
  constexpr int kAttempts = 100000;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const std::optional<ObjectId> id = client_.find_name(ns_, name);
    if (!id) {
      return std::nullopt;
    }
    if (std::optional<ObjectBuffer> buffer = client_.get(*id, std::chrono::milliseconds(0))) {
      return buffer;
    }
  }
  throw CorruptDataError(describe(name) + " is bound to an object the store's index does not hold; restart the store");
}

std::vector<std::byte> Brain::get_bytes(const std::string& name, std::chrono::milliseconds timeout) {
  const ObjectBuffer buffer = fetch(name, timeout);
  return {buffer.data().begin(), buffer.data().end()};
}

ObjectBuffer Brain::get_buffer(const std::string& name, std::chrono::milliseconds timeout) {
  return fetch(name, timeout);
}

ValueInfo Brain::metadata(const std::string& name) {
  const ObjectBuffer buffer = fetch(name, std::chrono::milliseconds(0));
  ValueInfo info = detail::decode_value_metadata(buffer.metadata(), buffer.data().size());
  info.id = buffer.id();
  return info;
}

bool Brain::contains(const std::string& name) {
  return client_.find_name(ns_, name).has_value();
}

bool Brain::erase(const std::string& name) {
  return client_.drop_name(ns_, name);
}

std::vector<std::string> Brain::names(const std::string& prefix) {
  std::vector<std::string> out;
  for (NameBinding& binding : client_.list_names(ns_, prefix)) {
    out.push_back(std::move(binding.name));
  }
  return out;
}

std::size_t Brain::size() {
  for (const NamespaceInfo& info : client_.namespaces()) {
    if (info.name == ns_) {
      return info.names;
    }
  }
  return 0;
}

std::uint64_t Brain::clear() {
  return client_.remove_namespace(ns_);
}

void Brain::set_namespace(std::string ns) {
  validate_name(ns, "store namespace");
  ns_ = std::move(ns);
}

}  // namespace shmkit
