// StoreClient's name operations: requests on the client's connection, and
// a blocking get_name on a side connection of its own, so a long wait does
// not hold the connection other threads (and buffer releases) need.

#include <unistd.h>

#include <algorithm>
#include <exception>

#include <shmkit/core/error.hpp>
#include <shmkit/core/name.hpp>
#include <shmkit/store/store_client.hpp>

#include "store/client/store_connection.hpp"
#include "store/common/unix_socket.hpp"

namespace shmkit {

using detail::Clock;
using detail::FrameReader;
using detail::FrameWriter;
using detail::Request;

namespace {

void validate_pair(const std::string& ns, const std::string& name) {
  validate_name(ns, "store namespace");
  validate_name(name, "store");
}

ObjectId read_id(std::span<const std::byte> body, const char* what) {
  FrameReader r(body);
  const ObjectId id = r.get_id();
  if (!r.ok()) {
    throw Error(std::string("the store server sent a malformed reply to ") + what);
  }
  return id;
}

FrameWriter put_value_frame(const std::string& ns, const std::string& name, const ObjectId& id,
                            std::span<const std::byte> data, std::span<const std::byte> metadata) {
  FrameWriter w;
  w.put(Request::put_value)
      .put_text(ns)
      .put_text(name)
      .put_id(id)
      .put(std::uint64_t{data.size()})
      .put(std::uint64_t{metadata.size()});
  w.put_bytes({reinterpret_cast<const char*>(data.data()), data.size()});
  w.put_bytes({reinterpret_cast<const char*>(metadata.data()), metadata.size()});
  return w;
}

TimeoutError name_timeout(const std::string& ns, const std::string& name, std::chrono::milliseconds timeout) {
  return TimeoutError("no name '" + name + "' in store namespace '" + ns + "' after " +
                      std::to_string(timeout.count()) + " ms; bind it with put_name (shmkit store set)");
}

// Closes a side connection however the wait ends.
struct FdGuard {
  explicit FdGuard(int owned) noexcept : fd(owned) {}
  int fd;
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() { ::close(fd); }
};

}  // namespace

void StoreClient::put_name(const std::string& ns, const std::string& name, const ObjectId& id) {
  validate_pair(ns, name);
  FrameWriter w;
  w.put(Request::put_name).put_text(ns).put_text(name).put_id(id);
  connection_->request(w.finish());
}

std::optional<ObjectId> StoreClient::find_name(const std::string& ns, const std::string& name) {
  validate_pair(ns, name);
  ObjectId id;
  switch (connection_->names().lookup(ns, name, id)) {
    case detail::NameLookup::found:
      return id;
    case detail::NameLookup::absent:
      return std::nullopt;
    case detail::NameLookup::unindexed:
      break;
  }
  FrameWriter w;
  w.put(Request::get_name).put_text(ns).put_text(name).put(std::uint8_t{0});
  try {
    return read_id(connection_->request(w.finish()), "get_name");
  } catch (const NotFoundError&) {
    return std::nullopt;
  }
}

ObjectId StoreClient::get_name(const std::string& ns, const std::string& name, std::chrono::milliseconds timeout) {
  if (const auto id = find_name(ns, name)) {
    return *id;
  }
  const auto timed_out = [&] { return name_timeout(ns, name, timeout); };
  if (timeout.count() == 0) {
    throw timed_out();
  }
  const Clock::time_point deadline = timeout.count() < 0 ? Clock::time_point::max() : Clock::now() + timeout;
  const std::string& path = connection_->path();
  const Clock::time_point connect_deadline = timeout.count() < 0 ? Clock::now() + std::chrono::seconds(10) : deadline;
  const FdGuard side{detail::open_side_connection(path, connect_deadline)};
  FrameWriter w;
  w.put(Request::get_name).put_text(ns).put_text(name).put(std::uint8_t{1});
  if (!detail::send_all(side.fd, w.finish())) {
    throw Error("the store server on '" + path + "' closed the connection during get_name");
  }
  // The server answers a waiting get_name only once the name is bound (or
  // at once if it was bound since the lookup above).
  std::uint32_t length = 0;
  bool expired = false;
  if (!detail::recv_exact(side.fd, {reinterpret_cast<std::byte*>(&length), 4}, deadline, {}, &expired)) {
    if (expired) {
      throw timed_out();
    }
    throw Error("the store server on '" + path + "' closed the connection during get_name");
  }
  if (length == 0 || length > detail::kMaxFrameBytes) {
    throw Error("the store server sent a malformed reply to get_name");
  }
  std::vector<std::byte> body(length);
  if (!detail::recv_exact(side.fd, body, Clock::time_point::max(), {}, &expired)) {
    throw Error("the store server on '" + path + "' closed the connection during get_name");
  }
  if (static_cast<detail::Status>(body[0]) != detail::Status::ok) {
    throw Error("the store server refused get_name: " +
                std::string(reinterpret_cast<const char*>(body.data() + 1), body.size() - 1));
  }
  return read_id(std::span<const std::byte>(body).subspan(1), "get_name");
}

ObjectBuffer StoreClient::get_named(const std::string& ns, const std::string& name, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = timeout.count() < 0 ? Clock::time_point::max() : Clock::now() + timeout;
  // Only a damaged object index (a client writing over it) makes a miss
  // below repeat without end.
  constexpr int kAttempts = 100000;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::chrono::milliseconds left = timeout;
    if (timeout.count() > 0) {
      left = std::max(std::chrono::milliseconds(0),
                      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    }
    ObjectId id;
    try {
      id = get_name(ns, name, left);
    } catch (const TimeoutError&) {
      throw name_timeout(ns, name, timeout);  // the whole wait, not its last part
    }
    // A named object is pinned, so a miss means a rebind removed it after
    // the lookup: the name now refers to a newer object.
    if (auto buffer = get(id, std::chrono::milliseconds(0))) {
      return std::move(*buffer);
    }
  }
  throw CorruptDataError("name '" + name + "' in store namespace '" + ns +
                         "' is bound to an object the store's index does not hold; restart the store");
}

void StoreClient::put_named(const std::string& ns, const std::string& name, const ObjectId& id,
                            std::span<const std::byte> data, std::span<const std::byte> metadata) {
  validate_pair(ns, name);
  if (data.size() + metadata.size() <= detail::kInlineValueBytes) {
    connection_->request(put_value_frame(ns, name, id, data, metadata).finish());
    return;
  }
  create_and_seal(id, data, metadata);
  try {
    put_name(ns, name, id);
  } catch (...) {
    remove(id);
    throw;
  }
}

void StoreClient::put_named(std::span<const NamedObject> objects) {
  std::vector<std::vector<std::byte>> inline_frames;
  std::vector<const NamedObject*> large;
  for (const NamedObject& object : objects) {
    validate_pair(object.ns, object.name);
    if (object.data.size() + object.metadata.size() <= detail::kInlineValueBytes) {
      inline_frames.push_back(
          std::move(put_value_frame(object.ns, object.name, object.id, object.data, object.metadata).finish()));
    } else {
      large.push_back(&object);
    }
  }
  std::exception_ptr first;
  try {
    connection_->request_batch(inline_frames);
  } catch (...) {
    first = std::current_exception();
  }
  for (const NamedObject* object : large) {
    try {
      put_named(object->ns, object->name, object->id, object->data, object->metadata);
    } catch (...) {
      if (!first) {
        first = std::current_exception();
      }
    }
  }
  if (first) {
    std::rethrow_exception(first);
  }
}

bool StoreClient::drop_name(const std::string& ns, const std::string& name) {
  validate_pair(ns, name);
  FrameWriter w;
  w.put(Request::drop_name).put_text(ns).put_text(name);
  try {
    connection_->request(w.finish());
  } catch (const NotFoundError&) {
    return false;
  }
  return true;
}

std::vector<NameBinding> StoreClient::list_names(const std::string& ns, const std::string& prefix) {
  validate_name(ns, "store namespace");
  if (prefix.size() > kMaxNameLength) {
    throw NameError("name prefix of " + std::to_string(prefix.size()) + " characters is longer than any name (" +
                    std::to_string(kMaxNameLength) + ")");
  }
  FrameWriter w;
  w.put(Request::list_names).put_text(ns).put_text(prefix);
  const std::vector<std::byte> body = connection_->request(w.finish());
  FrameReader r(body);
  const auto count = r.get<std::uint32_t>();
  std::vector<NameBinding> names;
  for (std::uint32_t i = 0; i < count && r.ok(false); ++i) {
    NameBinding binding;
    binding.name = r.get_text();
    binding.id = r.get_id();
    names.push_back(std::move(binding));
  }
  if (!r.ok()) {
    throw Error("the store server sent a malformed reply to list_names");
  }
  return names;
}

std::vector<NamespaceInfo> StoreClient::namespaces() {
  FrameWriter w;
  w.put(Request::namespaces);
  const std::vector<std::byte> body = connection_->request(w.finish());
  FrameReader r(body);
  const auto count = r.get<std::uint32_t>();
  std::vector<NamespaceInfo> spaces;
  for (std::uint32_t i = 0; i < count && r.ok(false); ++i) {
    NamespaceInfo info;
    info.name = r.get_text();
    info.names = r.get<std::uint64_t>();
    spaces.push_back(std::move(info));
  }
  if (!r.ok()) {
    throw Error("the store server sent a malformed reply to namespaces");
  }
  return spaces;
}

std::uint64_t StoreClient::remove_namespace(const std::string& ns) {
  validate_name(ns, "store namespace");
  FrameWriter w;
  w.put(Request::remove_namespace).put_text(ns);
  const std::vector<std::byte> body = connection_->request(w.finish());
  FrameReader r(body);
  const auto dropped = r.get<std::uint64_t>();
  if (!r.ok()) {
    throw Error("the store server sent a malformed reply to remove_namespace");
  }
  return dropped;
}

}  // namespace shmkit
