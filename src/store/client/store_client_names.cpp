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
using detail::Request;

namespace {

void validate_pair(const std::string& ns, const std::string& name) {
  validate_name(ns, "store namespace");
  validate_name(name, "store");
}

TimeoutError name_timeout(const std::string& ns, const std::string& name, std::chrono::milliseconds timeout) {
  return TimeoutError("no name '" + name + "' in store namespace '" + ns + "' after " +
                      std::to_string(timeout.count()) + " ms; bind it with put_name (shmkit store set)");
}

// Reads of a name through its cell before asking the server (see find_name).
constexpr int kCellAttempts = 64;

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
  connection_->request(detail::encode_put_name(ns, name, id));
}

std::optional<ObjectId> StoreClient::find_name(const std::string& ns, const std::string& name) {
  validate_pair(ns, name);
  // A miss after a found cell means a rebind freed the value just read:
  // the cell holds the newer one. Only a damaged cell keeps missing; the
  // server's own table then answers.
  for (int attempt = 0; attempt < kCellAttempts; ++attempt) {
    ObjectId id;
    const auto read = connection_->read_name(connection_, ns, name, nullptr, &id);
    if (read == detail::StoreConnection::NameRead::got) {
      return id;
    }
    if (read == detail::StoreConnection::NameRead::absent) {
      return std::nullopt;
    }
    if (read == detail::StoreConnection::NameRead::ask_server) {
      break;
    }
  }
  try {
    return detail::decode_id_reply(connection_->request(detail::encode_get_name(ns, name, false)), "get_name");
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
  if (!detail::send_all(side.fd, detail::encode_get_name(ns, name, true))) {
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
                detail::decode_error_reply(std::span<const std::byte>(body).subspan(1)));
  }
  return detail::decode_id_reply(std::span<const std::byte>(body).subspan(1), "get_name");
}

ObjectBuffer StoreClient::get_named(const std::string& ns, const std::string& name, std::chrono::milliseconds timeout) {
  validate_pair(ns, name);
  // The common case, a bound name: its cell, then a lease on the object.
  for (int attempt = 0; attempt < kCellAttempts; ++attempt) {
    ObjectBuffer buffer;
    const auto read = connection_->read_name(connection_, ns, name, &buffer, nullptr);
    if (read == detail::StoreConnection::NameRead::got) {
      return buffer;
    }
    if (read != detail::StoreConnection::NameRead::moved) {
      break;
    }
  }
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
  if (connection_->put_named_fast(ns, name, id, data, metadata)) {
    return;
  }
  if (data.size() + metadata.size() <= detail::kInlineValueBytes) {
    connection_->request(detail::encode_put_value({ns, name, id, data, metadata}));
    return;
  }
  put_large_named(ns, name, id, data, metadata);
}

void StoreClient::put_large_named(const std::string& ns, const std::string& name, const ObjectId& id,
                                  std::span<const std::byte> data, std::span<const std::byte> metadata) {
  create_and_seal(id, data, metadata);
  try {
    put_name(ns, name, id);
  } catch (...) {
    remove(id);
    throw;
  }
}

void StoreClient::put_named(std::span<const NamedObject> objects) {
  std::vector<detail::Frame> inline_frames;
  std::exception_ptr first;
  const auto keep_first = [&first] {
    if (!first) {
      first = std::current_exception();
    }
  };
  // Small values that go to the server travel in one round trip; a large
  // one is sent after them, so the server applies every value in the
  // batch's order.
  const auto send_inline = [&] {
    try {
      if (!inline_frames.empty()) {
        connection_->request_batch(inline_frames);
      }
    } catch (...) {
      keep_first();
    }
    inline_frames.clear();
  };
  // Once one value goes through the server, the rest follow it there, so
  // two values of one name in the batch are applied in their order.
  bool through_server = false;
  for (const NamedObject& object : objects) {
    validate_pair(object.ns, object.name);
    if (!through_server) {
      try {
        if (connection_->put_named_fast(object.ns, object.name, object.id, object.data, object.metadata)) {
          continue;
        }
      } catch (...) {
        keep_first();
        continue;
      }
      through_server = true;
    }
    if (object.data.size() + object.metadata.size() <= detail::kInlineValueBytes) {
      inline_frames.push_back(detail::encode_put_value(object));
      continue;
    }
    send_inline();
    try {
      put_large_named(object.ns, object.name, object.id, object.data, object.metadata);
    } catch (...) {
      keep_first();
    }
  }
  send_inline();
  if (first) {
    std::rethrow_exception(first);
  }
}

bool StoreClient::drop_name(const std::string& ns, const std::string& name) {
  validate_pair(ns, name);
  try {
    connection_->request(detail::encode_text_pair(Request::drop_name, ns, name));
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
  return detail::decode_list_names_reply(
      connection_->request(detail::encode_text_pair(Request::list_names, ns, prefix)));
}

std::vector<NamespaceInfo> StoreClient::namespaces() {
  return detail::decode_namespaces_reply(connection_->request(detail::encode_bare_request(Request::namespaces)));
}

std::uint64_t StoreClient::remove_namespace(const std::string& ns) {
  validate_name(ns, "store namespace");
  return detail::decode_count_reply(connection_->request(detail::encode_text_request(Request::remove_namespace, ns)),
                                    "remove_namespace");
}

}  // namespace shmkit
