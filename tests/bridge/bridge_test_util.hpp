#pragma once
// Helpers for the bridge tests: a real redis-server (Debian's) on a Unix
// socket in a temporary directory, with AOF on, that can be SIGKILLed and
// restarted on the same data; a Bridge running on a thread; `shmkit`
// commands as processes; and stores acting as hosts.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shmkit/bridge/bridge.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../store/store_test_util.hpp"

namespace shmkit::testing {

/// A redis-server of its own, stopped (and its directory removed) at scope exit.
class TestRedis {
 public:
  TestRedis() : dir_(make_dir()) { start(); }
  TestRedis(const TestRedis&) = delete;
  TestRedis& operator=(const TestRedis&) = delete;
  ~TestRedis() {
    kill9();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  [[nodiscard]] std::string socket() const { return dir_ + "/redis.sock"; }
  [[nodiscard]] std::string url() const { return "unix://" + socket(); }

  /// Starts redis-server and waits until it answers on its socket.
  void start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string sock = socket();
      ::execl("/usr/bin/redis-server", "redis-server", "--port", "0", "--unixsocket", sock.c_str(), "--dir",
              dir_.c_str(), "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile",
              (dir_ + "/redis.log").c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    require(eventually([&] { return answers(); }), "redis-server answers on " + socket());
  }

  /// SIGKILL, then reap: the data survives in the AOF.
  void kill9() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      ::unlink(socket().c_str());
    }
  }

  /// Runs one command with redis-cli-like arguments; returns the reply as
  /// text (integers in decimal, nil as "(nil)").
  [[nodiscard]] std::string command(const std::vector<std::string>& args) const;

 private:
  static std::string make_dir() {
    static int counter = 0;
    const std::string dir = "/tmp/shmkit-redis-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    std::filesystem::create_directories(dir);
    return dir;
  }
  [[nodiscard]] bool answers() const;

  std::string dir_;
  pid_t pid_ = -1;
};

/// A Bridge running on its own thread, stopped and joined at scope exit;
/// its log lines are kept.
class BridgeThread {
 public:
  BridgeThread(const std::string& store_socket, const std::string& redis_url, const std::string& host_id,
               std::vector<std::string> namespaces = {"exp"}, const std::function<void(BridgeOptions&)>& tweak = {}) {
    BridgeOptions options;
    options.store_socket = store_socket;
    options.namespaces = std::move(namespaces);
    options.redis_url = redis_url;
    options.host_id = host_id;
    options.prefix = "t" + std::to_string(::getpid());
    options.min_backoff = std::chrono::milliseconds(10);
    options.max_backoff = std::chrono::milliseconds(200);
    options.log = [this](const std::string& line) {
      const std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back(line);
    };
    if (tweak) {
      tweak(options);
    }
    bridge_.emplace(Bridge::create(options));
    thread_ = std::thread([this] { bridge_->run(); });
  }
  BridgeThread(const BridgeThread&) = delete;
  BridgeThread& operator=(const BridgeThread&) = delete;
  ~BridgeThread() {
    bridge_->stop();
    thread_.join();
  }
  [[nodiscard]] BridgeStats stats() const { return bridge_->stats(); }
  [[nodiscard]] bool logged(const std::string& words) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& line : lines_) {
      if (line.find(words) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  /// Waits until the bridge has connected and synced `n` times.
  [[nodiscard]] bool synced(std::uint64_t n = 1) const {
    return eventually([&] { return stats().syncs >= n && stats().connected; });
  }

 private:
  std::optional<Bridge> bridge_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

/// One `shmkit ARGS...` process with stdout and stderr appended to a file,
/// SIGKILLed at scope exit if still running. `ready_text` is the line the
/// command prints once its signal handling is in place (empty: the caller
/// knows by other means that it runs).
class ShmkitProcess {
 public:
  ShmkitProcess(std::vector<std::string> args, std::filesystem::path log, std::string ready_text = {})
      : args_(std::move(args)), log_(std::move(log)), ready_text_(std::move(ready_text)) {
    start();
  }
  ShmkitProcess(const ShmkitProcess&) = delete;
  ShmkitProcess& operator=(const ShmkitProcess&) = delete;
  ~ShmkitProcess() { kill9(); }

  void start() {
    std::error_code ignored;
    const auto size = std::filesystem::file_size(log_, ignored);
    started_at_ = size == static_cast<std::uintmax_t>(-1) ? 0 : size;
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      const std::string exe = shmkit_binary();
      std::vector<char*> argv{const_cast<char*>(exe.c_str())};
      for (std::string& arg : args_) {
        argv.push_back(arg.data());
      }
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
  }
  void kill9() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  /// SIGTERM, once the latest start has printed `ready_text`, and wait;
  /// @returns the exit status (-1 if killed by a signal).
  int terminate() {
    if (!ready_text_.empty()) {
      require(eventually([&] { return log().find(ready_text_, started_at_) != std::string::npos; }),
              "the process started: " + log());
    }
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  [[nodiscard]] std::string log() const {
    std::ifstream in(log_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  std::vector<std::string> args_;
  std::filesystem::path log_;
  std::string ready_text_;
  std::size_t started_at_ = 0;  // log size at the latest start
  pid_t pid_ = -1;
};

}  // namespace shmkit::testing
