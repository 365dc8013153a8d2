#include "bridge_test_util.hpp"

#include <hiredis/hiredis.h>

namespace shmkit::testing {

namespace {

std::string reply_text(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::string text;
      for (std::size_t i = 0; i < r->elements; ++i) {
        text += (i == 0 ? "" : "\n") + reply_text(r->element[i]);
      }
      return text;
    }
    default:
      return std::string(r->str, r->len);
  }
}

}  // namespace

std::string TestRedis::command(const std::vector<std::string>& args) const {
  redisContext* c = redisConnectUnix(socket().c_str());
  require(c != nullptr && c->err == 0, "connect to the test redis-server");
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lengths.data()));
  require(r != nullptr, "a reply from the test redis-server");
  std::string text = reply_text(r);
  freeReplyObject(r);
  redisFree(c);
  return text;
}

bool TestRedis::answers() const {
  redisContext* c = redisConnectUnix(socket().c_str());
  bool ok = false;
  if (c != nullptr && c->err == 0) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    ok = r != nullptr && r->type == REDIS_REPLY_STATUS;
    if (r != nullptr) {
      freeReplyObject(r);
    }
  }
  if (c != nullptr) {
    redisFree(c);
  }
  return ok;
}

}  // namespace shmkit::testing
