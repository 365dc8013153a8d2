#pragma once
// One hiredis connection, synchronous: commands with binary arguments,
// replies freed by RAII, and for a subscriber connection the non-blocking
// read of whatever messages have arrived. Every failure of the connection
// itself throws RedisError; the connection is then unusable and the caller
// reconnects.

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <shmkit/core/error.hpp>

#include "bridge/redis_url.hpp"

struct redisContext;
struct redisReply;

namespace shmkit::detail {

// The connection failed (refused, closed, timed out): reconnect.
class RedisError : public Error {
 public:
  using Error::Error;
};

// A reply (or an element of one); empty when the owner is null.
class RedisReply {
 public:
  explicit RedisReply(redisReply* reply) noexcept : reply_(reply) {}
  [[nodiscard]] bool is_nil() const noexcept;
  [[nodiscard]] bool is_error() const noexcept;
  [[nodiscard]] bool is_array() const noexcept;
  [[nodiscard]] long long integer() const noexcept;
  // The bytes of a string, status or error reply (empty otherwise).
  [[nodiscard]] std::string_view text() const noexcept;
  [[nodiscard]] std::size_t size() const noexcept;  // array elements
  [[nodiscard]] RedisReply operator[](std::size_t i) const noexcept;

 private:
  redisReply* reply_;
};

class OwnedReply {
 public:
  explicit OwnedReply(void* reply) noexcept;
  OwnedReply(OwnedReply&&) noexcept = default;
  OwnedReply& operator=(OwnedReply&&) noexcept = default;
  [[nodiscard]] RedisReply get() const noexcept { return RedisReply(reply_.get()); }

 private:
  struct Free {
    void operator()(redisReply* r) const noexcept;
  };
  std::unique_ptr<redisReply, Free> reply_;
};

class RedisClient {
 public:
  // Connects, authenticates and selects the database.
  // @throws RedisError naming the URL and what failed
  [[nodiscard]] static RedisClient connect(const RedisEndpoint& endpoint, const std::string& password,
                                           std::chrono::milliseconds timeout);

  RedisClient(RedisClient&&) noexcept = default;
  RedisClient& operator=(RedisClient&&) noexcept = default;

  // One command; an error reply is returned (is_error), a broken
  // connection throws. @throws RedisError
  OwnedReply command(const std::vector<std::string_view>& args);
  // Queues commands to send with the next `reply` calls (pipelining).
  void append(const std::vector<std::string_view>& args);
  // The reply to the oldest command appended. @throws RedisError
  OwnedReply reply();
  // Writes commands already in the protocol's form (RESP) straight to the
  // socket, gathered from `parts` without a copy, ahead of anything
  // appended and not yet sent (so append nothing before it); their replies
  // are read with `reply`. @throws RedisError
  void send_raw(std::vector<iovec>& parts);

  // For a subscribed connection: reads what the socket holds (once, after
  // poll said readable) and hands every complete reply to `each`.
  // @throws RedisError when the server closed the connection
  void read_available(const std::function<void(RedisReply)>& each);
  // Hands every complete reply hiredis has already read to `each`, without
  // reading the socket: a message that arrived with the reply to SUBSCRIBE
  // is in hiredis' buffer, where poll cannot see it. @throws RedisError
  void take_buffered(const std::function<void(RedisReply)>& each);

  [[nodiscard]] int fd() const noexcept;

 private:
  struct Free {
    void operator()(redisContext* c) const noexcept;
  };
  RedisClient(std::unique_ptr<redisContext, Free> context, std::string url) noexcept
      : context_(std::move(context)), url_(std::move(url)) {}
  [[noreturn]] void fail(const std::string& doing) const;

  std::unique_ptr<redisContext, Free> context_;
  std::string url_;
};

}  // namespace shmkit::detail
