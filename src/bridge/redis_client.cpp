#include "bridge/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <limits.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace shmkit::detail {

namespace {

timeval to_timeval(std::chrono::milliseconds timeout) noexcept {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  return tv;
}

struct Argv {
  std::vector<const char*> pointers;
  std::vector<std::size_t> lengths;
  explicit Argv(const std::vector<std::string_view>& args) {
    pointers.reserve(args.size());
    lengths.reserve(args.size());
    for (const std::string_view arg : args) {
      pointers.push_back(arg.data());
      lengths.push_back(arg.size());
    }
  }
};

}  // namespace

bool RedisReply::is_nil() const noexcept {
  return reply_ == nullptr || reply_->type == REDIS_REPLY_NIL;
}
bool RedisReply::is_error() const noexcept {
  return reply_ != nullptr && reply_->type == REDIS_REPLY_ERROR;
}
bool RedisReply::is_array() const noexcept {
  return reply_ != nullptr && reply_->type == REDIS_REPLY_ARRAY;
}
long long RedisReply::integer() const noexcept {
  return reply_ != nullptr && reply_->type == REDIS_REPLY_INTEGER ? reply_->integer : 0;
}
std::string_view RedisReply::text() const noexcept {
  if (reply_ == nullptr ||
      (reply_->type != REDIS_REPLY_STRING && reply_->type != REDIS_REPLY_STATUS && reply_->type != REDIS_REPLY_ERROR)) {
    return {};
  }
  return {reply_->str, reply_->len};
}
std::size_t RedisReply::size() const noexcept {
  return is_array() ? reply_->elements : 0;
}
RedisReply RedisReply::operator[](std::size_t i) const noexcept {
  return RedisReply(i < size() ? reply_->element[i] : nullptr);
}

OwnedReply::OwnedReply(void* reply) noexcept : reply_(static_cast<redisReply*>(reply)) {}
void OwnedReply::Free::operator()(redisReply* r) const noexcept {
  freeReplyObject(r);
}
void RedisClient::Free::operator()(redisContext* c) const noexcept {
  redisFree(c);
}

RedisClient RedisClient::connect(const RedisEndpoint& endpoint, const std::string& password,
                                 std::chrono::milliseconds timeout) {
  const timeval tv = to_timeval(timeout);
  std::unique_ptr<redisContext, Free> context(endpoint.unix_path.empty()
                                                  ? redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv)
                                                  : redisConnectUnixWithTimeout(endpoint.unix_path.c_str(), tv));
  if (!context) {
    throw RedisError("cannot connect to Redis at '" + endpoint.url + "': out of memory");
  }
  RedisClient client(std::move(context), endpoint.url);
  if (client.context_->err != 0) {
    client.fail("connect");
  }
  // A command timeout too: a stopped server must not hang the bridge.
  if (redisSetTimeout(client.context_.get(), tv) != REDIS_OK) {
    client.fail("set the timeout");
  }
  if (!password.empty()) {
    const OwnedReply auth = client.command({"AUTH", password});
    if (auth.get().is_error()) {
      throw RedisError("Redis at '" + endpoint.url + "' refused the password: " + std::string(auth.get().text()));
    }
  }
  if (endpoint.db != 0) {
    const std::string db = std::to_string(endpoint.db);
    const OwnedReply select = client.command({"SELECT", db});
    if (select.get().is_error()) {
      throw RedisError("Redis at '" + endpoint.url + "' refused SELECT " + db + ": " +
                       std::string(select.get().text()));
    }
  }
  return client;
}

void RedisClient::fail(const std::string& doing) const {
  const redisContext* c = context_.get();
  const std::string why = c->err != 0 ? std::string(c->errstr) : std::string("no reply");
  throw RedisError("Redis at '" + url_ + "': cannot " + doing + ": " + why);
}

OwnedReply RedisClient::command(const std::vector<std::string_view>& args) {
  const Argv argv(args);
  void* reply = redisCommandArgv(context_.get(), static_cast<int>(args.size()),
                                 const_cast<const char**>(argv.pointers.data()), argv.lengths.data());
  if (reply == nullptr) {
    fail(std::string("run ") + std::string(args.empty() ? "" : args.front()));
  }
  return OwnedReply(reply);
}

void RedisClient::append(const std::vector<std::string_view>& args) {
  const Argv argv(args);
  if (redisAppendCommandArgv(context_.get(), static_cast<int>(args.size()),
                             const_cast<const char**>(argv.pointers.data()), argv.lengths.data()) != REDIS_OK) {
    fail("queue a command");
  }
}

OwnedReply RedisClient::reply() {
  void* reply = nullptr;
  if (redisGetReply(context_.get(), &reply) != REDIS_OK || reply == nullptr) {
    fail("read a reply");
  }
  return OwnedReply(reply);
}

void RedisClient::read_available(const std::function<void(RedisReply)>& each) {
  if (redisBufferRead(context_.get()) != REDIS_OK) {
    fail("read");
  }
  take_buffered(each);
}

void RedisClient::take_buffered(const std::function<void(RedisReply)>& each) {
  for (;;) {
    void* reply = nullptr;
    if (redisGetReplyFromReader(context_.get(), &reply) != REDIS_OK) {
      fail("parse a reply");
    }
    if (reply == nullptr) {
      return;
    }
    const OwnedReply owned(reply);
    each(owned.get());
  }
}

void RedisClient::send_raw(std::vector<iovec>& parts) {
  std::size_t first = 0;
  while (first < parts.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(parts.size() - first, IOV_MAX));
    const ssize_t n = ::writev(context_->fd, parts.data() + first, count);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw RedisError("Redis at '" + url_ + "': cannot write: " +
                       (errno == EAGAIN || errno == EWOULDBLOCK ? std::string("timed out") : std::strerror(errno)));
    }
    auto written = static_cast<std::size_t>(n);
    while (first < parts.size() && written >= parts[first].iov_len) {
      written -= parts[first].iov_len;
      ++first;
    }
    if (written > 0) {
      parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + written;
      parts[first].iov_len -= written;
    }
  }
}

int RedisClient::fd() const noexcept {
  return context_->fd;
}

}  // namespace shmkit::detail
