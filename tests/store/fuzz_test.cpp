// Hostile and broken clients: random, truncated and oversized frames,
// requests on other clients' objects. The server answers or drops that one
// connection and keeps serving everyone else.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <shmkit/core/error.hpp>
#include <shmkit/store/store_client.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "store_test_util.hpp"

namespace shmkit::testing {
namespace {

using namespace std::chrono_literals;

// A raw connection past the greeting (whose descriptor recv() discards).
int raw_connect(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw std::runtime_error("connect failed");
  }
  std::uint32_t length = 0;
  std::vector<char> body;
  if (::recv(fd, &length, 4, MSG_WAITALL) != 4) {
    throw std::runtime_error("no greeting");
  }
  body.resize(length);
  if (::recv(fd, body.data(), length, MSG_WAITALL) != static_cast<ssize_t>(length)) {
    throw std::runtime_error("short greeting");
  }
  return fd;
}

void send_raw(int fd, const std::vector<std::uint8_t>& bytes) {
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

std::vector<std::uint8_t> frame(std::uint8_t type, const std::vector<std::uint8_t>& payload) {
  const auto length = static_cast<std::uint32_t>(payload.size() + 1);
  std::vector<std::uint8_t> bytes(4);
  std::memcpy(bytes.data(), &length, 4);
  bytes.push_back(type);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}

// The reply to one request on a raw connection: status byte + text.
std::pair<std::uint8_t, std::string> read_reply(int fd) {
  std::uint32_t length = 0;
  if (::recv(fd, &length, 4, MSG_WAITALL) != 4 || length == 0) {
    return {255, "closed"};
  }
  std::string body(length, '\0');
  (void)::recv(fd, body.data(), length, MSG_WAITALL);
  return {static_cast<std::uint8_t>(body[0]), body.substr(1)};
}

TEST(StoreFuzzTest, RandomAndTruncatedFramesDoNotHurtOtherClients) {
  TestStore store(1 << 20, [](StoreOptions& o) { o.max_clients = 16; });
  StoreClient client = store.client();
  client.create_and_seal(oid("precious"), as_bytes("still here"));
  std::optional<ObjectBuffer> pinned = client.get(oid("precious"), 0ms);  // random evicts cannot take it
  const std::uint64_t baseline = client.used();
  std::mt19937 rng(2024);
  for (int round = 0; round < 300; ++round) {
    const int fd = raw_connect(store.path());
    const int frames = static_cast<int>(rng() % 20);
    for (int f = 0; f < frames; ++f) {
      std::vector<std::uint8_t> payload(rng() % 64);
      for (auto& b : payload) {
        b = static_cast<std::uint8_t>(rng());
      }
      // Mostly known request types with garbage payloads, some unknown.
      const auto type = static_cast<std::uint8_t>(rng() % 4 == 0 ? rng() : 1 + rng() % 8);
      std::vector<std::uint8_t> bytes = frame(type, payload);
      switch (rng() % 6) {
        case 0:  // truncated: the rest never comes
          bytes.resize(rng() % bytes.size());
          f = frames;
          break;
        case 1:  // a length no request can have
          bytes = {0xff, 0xff, 0xff, 0x7f, 1, 2, 3};
          f = frames;
          break;
        case 2:  // zero length
          bytes = {0, 0, 0, 0};
          f = frames;
          break;
        default:
          break;
      }
      send_raw(fd, bytes);
    }
    ::close(fd);
    if (round % 50 == 0) {
      client.create_and_seal(oid(round), as_bytes("ok"));
      ASSERT_EQ(as_text(client.get(oid(round), 0ms)->data()), "ok") << round;
      ASSERT_TRUE(client.remove(oid(round)));
    }
  }
  ASSERT_TRUE(eventually([&] { return client.stats().clients == 1; }));
  EXPECT_EQ(client.used(), baseline);  // whatever garbage created was aborted
  EXPECT_EQ(as_text(pinned->data()), "still here");
  StoreClient fresh = store.client();
  fresh.create_and_seal(oid("after"), as_bytes("fine"));
  EXPECT_EQ(as_text(client.get(oid("after"), 0ms)->data()), "fine");
}

TEST(StoreFuzzTest, MalformedRequestsGetErrorReplies) {
  TestStore store(1 << 20);
  StoreClient client = store.client();
  (void)client.create(oid("theirs"), 100);  // unsealed, owned by `client`
  const int fd = raw_connect(store.path());
  send_raw(fd, frame(1, {1, 2, 3}));   // create with a short body
  EXPECT_EQ(read_reply(fd).first, 4);  // invalid
  send_raw(fd, frame(77, {}));         // unknown type
  auto [status, text] = read_reply(fd);
  EXPECT_EQ(status, 4);
  EXPECT_NE(text.find("malformed"), std::string::npos);
  // Abort another client's unsealed object: refused, object untouched.
  const ObjectId theirs = oid("theirs");
  const std::vector<std::uint8_t> id(theirs.bytes.begin(), theirs.bytes.end());
  send_raw(fd, frame(2, id));
  std::tie(status, text) = read_reply(fd);
  EXPECT_EQ(status, 5);
  EXPECT_NE(text.find("another client"), std::string::npos);
  // Remove of it: refused as unsealed.
  send_raw(fd, frame(3, id));
  EXPECT_EQ(read_reply(fd).first, 5);
  // Notices about slots that do not exist are ignored (no reply).
  send_raw(fd, frame(7, {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}));
  send_raw(fd, frame(8, {0, 0, 0, 0, 9, 9, 9, 9}));
  // Create an absurd size: a clear error, no allocation.
  std::vector<std::uint8_t> create = {1, 0, 0, 0};
  create.insert(create.end(), 20, 0xab);
  for (int i = 0; i < 8; ++i) {
    create.push_back(0xff);  // data size 2^64-1
  }
  for (int i = 0; i < 8; ++i) {
    create.push_back(0);
  }
  send_raw(fd, frame(1, create));
  std::tie(status, text) = read_reply(fd);
  EXPECT_EQ(status, 3);
  EXPECT_NE(text.find("capacity"), std::string::npos);
  // An oversized frame gets the connection closed.
  send_raw(fd, {0xff, 0xff, 0xff, 0xff});
  EXPECT_EQ(read_reply(fd).first, 255);
  ::close(fd);
  client.seal(oid("theirs"));
  EXPECT_TRUE(client.contains(oid("theirs")));
}

}  // namespace
}  // namespace shmkit::testing
