#include "test_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace shmkit::testing {

namespace {

std::string current_test_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) {
    return "none";
  }
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : name) {  // parameterised tests contain '/'
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      c = '_';
    }
  }
  return name.substr(0, 150);
}

ChildResult decode(int status) {
  ChildResult result;
  if (WIFEXITED(status)) {
    result.exited = true;
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace

ScopedName::ScopedName(std::string_view tag) {
  static std::atomic<int> counter{0};
  name_ = "shmkit-test-" + std::to_string(::getpid()) + "-" + current_test_name() + "-" +
          std::to_string(counter.fetch_add(1));
  if (!tag.empty()) {
    name_ += "-" + std::string(tag);
  }
}

ScopedName::~ScopedName() {
  ::shm_unlink(("/" + name_).c_str());
}

Child::Child(std::function<void()> body) {
  std::cout.flush();
  std::cerr.flush();
  pid_ = ::fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    int code = 0;
    try {
      body();
    } catch (const std::exception& e) {
      std::cerr << "child " << ::getpid() << " threw: " << e.what() << std::endl;
      code = 1;
    } catch (...) {
      code = 1;
    }
    std::cout.flush();
    std::cerr.flush();
    ::_exit(code);  // skip gtest's atexit handlers and static destructors in the child
  }
}

Child::Child(Child&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}

Child::~Child() {
  if (pid_ > 0) {
    kill_and_wait();
  }
}

ChildResult Child::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Polling waitpid with a short pause is the bounded wait; the test logic
  // itself never depends on timing.
  while (true) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return decode(status);
    }
    if (done < 0) {
      pid_ = -1;
      return {};
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ChildResult result = kill_and_wait();
      result.timed_out = true;
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

ChildResult Child::kill_and_wait() {
  if (pid_ <= 0) {
    return {};
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return decode(status);
}

Signal::Signal() {
  if (::pipe2(fds_, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
}

Signal::~Signal() {
  ::close(fds_[0]);
  ::close(fds_[1]);
}

void Signal::notify() const {
  const char byte = 1;
  while (::write(fds_[1], &byte, 1) < 0 && errno == EINTR) {
  }
}

bool Signal::wait(std::chrono::milliseconds timeout) const {
  pollfd pfd{fds_[0], POLLIN, 0};
  const int ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (ready != 1) {
    return false;
  }
  char byte = 0;
  return ::read(fds_[0], &byte, 1) == 1;
}

::testing::AssertionResult exited_ok(const ChildResult& result) {
  if (result.timed_out) {
    return ::testing::AssertionFailure() << "child timed out and was killed";
  }
  if (!result.exited) {
    return ::testing::AssertionFailure() << "child was killed by signal " << result.signal;
  }
  if (result.exit_code != 0) {
    return ::testing::AssertionFailure() << "child exited with code " << result.exit_code << " (see its stderr)";
  }
  return ::testing::AssertionSuccess();
}

void require(bool condition, const std::string& message) {
  if (!condition) {
    throw std::runtime_error(message);
  }
}

bool wait_until_exited_unreaped(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    siginfo_t info{};
    // WNOWAIT leaves the child a zombie, so a later waitpid still reaps it.
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void make_raw_segment(std::string_view name, std::size_t size, std::byte fill) {
  const std::string path = "/" + std::string(name);
  const int fd = ::shm_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error("shm_open(" + path + ") failed: " + std::strerror(errno));
  }
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error("ftruncate(" + path + ") failed: " + std::strerror(err));
  }
  if (size > 0 && fill != std::byte{0}) {
    void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error("mmap(" + path + ") failed: " + std::strerror(err));
    }
    std::memset(addr, static_cast<int>(fill), size);
    ::munmap(addr, size);
  }
  ::close(fd);
}

RawMapping::RawMapping(std::string_view name) {
  const std::string path = "/" + std::string(name);
  const int fd = ::shm_open(path.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    throw std::runtime_error("shm_open(" + path + ") failed: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 4096) {
    ::close(fd);
    throw std::runtime_error("segment " + path + " is missing or shorter than 4096 bytes");
  }
  size_ = static_cast<std::size_t>(st.st_size);
  void* addr = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (addr == MAP_FAILED) {
    throw std::runtime_error("mmap(" + path + ") failed: " + std::strerror(errno));
  }
  data_ = static_cast<std::byte*>(addr);
}

RawMapping::~RawMapping() {
  ::munmap(data_, size_);
}

mode_t segment_mode(std::string_view name) {
  struct stat st {};
  const std::string path = "/dev/shm/" + std::string(name);
  if (::stat(path.c_str(), &st) != 0) {
    throw std::runtime_error("stat(" + path + ") failed: " + std::strerror(errno));
  }
  return st.st_mode & 07777;
}

bool segment_exists(std::string_view name) {
  struct stat st {};
  return ::stat(("/dev/shm/" + std::string(name)).c_str(), &st) == 0;
}

ScopedUmask::ScopedUmask(mode_t mask) : previous_(::umask(mask)) {}

ScopedUmask::~ScopedUmask() {
  ::umask(previous_);
}

CommandResult run_command(const std::string& command_line) {
  CommandResult result;
  const std::string full = command_line + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) {
    throw std::runtime_error("popen failed for: " + command_line);
  }
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string python() {
  return SHMKIT_TEST_PYTHON;
}
std::string source_dir() {
  return SHMKIT_TEST_SOURCE_DIR;
}
TempDir::TempDir() {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string tag = test != nullptr ? std::string(test->test_suite_name()) + "." + test->name() : "none";
  for (char& c : tag) {
    if (c == '/') {  // parameterised test names
      c = '_';
    }
  }
  std::string pattern = (std::filesystem::temp_directory_path() / ("shmkit-test-" + tag + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("cannot create a temporary directory '" + pattern + "': " + std::strerror(errno));
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ignored);
  std::filesystem::remove_all(path_, ignored);
}

std::string build_dir() {
  return SHMKIT_TEST_BUILD_DIR;
}

std::string shmkit_binary() {
  return build_dir() + "/src/cli/shmkit";
}

CommandResult shmkit_command(std::string_view arguments) {
  return run_command(shmkit_binary() + " " + std::string(arguments));
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace shmkit::testing
