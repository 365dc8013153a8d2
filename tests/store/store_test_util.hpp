#pragma once
// Helpers for the store tests: a server on a unique socket that is stopped
// and unlinked even when a test fails, ids and byte views, and bounded
// polling (never a sleep) for state the server updates asynchronously.

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <shmkit/store/store_client.hpp>
#include <shmkit/store/store_server.hpp>

#include <chrono>
#include <cstddef>
#include <fstream>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace shmkit::testing {

/// A socket path unique to this process and call, under /tmp.
inline std::string unique_socket_path() {
  static int counter = 0;
  return "/tmp/shmkit-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".sock";
}

/// A running StoreServer on a fresh socket, stopped at scope exit.
class TestStore {
 public:
  explicit TestStore(std::size_t capacity, const std::function<void(StoreOptions&)>& tweak = {})
      : path_(unique_socket_path()), server_(start(capacity, path_, tweak)) {}
  TestStore(const TestStore&) = delete;
  TestStore& operator=(const TestStore&) = delete;
  ~TestStore() {
    server_.stop();
    ::unlink(path_.c_str());
  }
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] StoreServer& server() noexcept { return server_; }
  [[nodiscard]] StoreClient client() const { return StoreClient::connect(path_, std::chrono::seconds(10)); }

 private:
  static StoreServer start(std::size_t capacity, const std::string& path,
                           const std::function<void(StoreOptions&)>& tweak) {
    StoreOptions options;
    options.capacity = capacity;
    options.socket_path = path;
    if (tweak) {
      tweak(options);
    }
    return StoreServer::start(options);
  }
  std::string path_;
  StoreServer server_;
};

/// `shmkit store -m SIZE -s PATH --mode MODE --prefault [EXTRA...]` in a
/// child process, killed at scope exit if the test did not stop it (and
/// continued first, in case the test stopped it with SIGSTOP).
class StoreServerProcess {
 public:
  explicit StoreServerProcess(const std::string& path, const std::string& size = "4M", const std::string& mode = "0600",
                              std::vector<std::string> extra = {})
      : path_(path), child_([path, size, mode, extra] {
          const std::string binary = shmkit_binary();
          std::vector<std::string> args{binary, "store", "-m", size, "-s", path, "--mode", mode, "--prefault"};
          args.insert(args.end(), extra.begin(), extra.end());
          std::vector<char*> argv;
          for (std::string& arg : args) {
            argv.push_back(arg.data());
          }
          argv.push_back(nullptr);
          ::execv(binary.c_str(), argv.data());
          throw std::runtime_error("exec failed");
        }) {}
  ~StoreServerProcess() {
    if (child_.pid() > 0) {  // -1 once reaped: kill(-1) would reach every process
      ::kill(child_.pid(), SIGCONT);
    }
    ::unlink(path_.c_str());
  }
  Child& child() { return child_; }

 private:
  std::string path_;
  Child child_;
};

inline ObjectId oid(std::string_view name) {
  return ObjectId::from_bytes(name);
}
inline ObjectId oid(int n) {
  return ObjectId::from_bytes("object-" + std::to_string(n));
}

inline std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}
inline std::string as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

/// Polls `condition` until it holds or 20 s pass; the server applies a
/// client's disconnect on its own thread, so tests wait for the effect.
inline bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::yield();
  }
  return condition();
}

/// True once process `pid` (single-threaded) sleeps in the futex system
/// call, i.e. is blocked inside a store get.
inline bool blocked_in_futex(pid_t pid) {
  std::ifstream syscall("/proc/" + std::to_string(pid) + "/syscall");
  long number = -1;
  syscall >> number;
  return number == SYS_futex;
}

}  // namespace shmkit::testing
