#include "store/common/unix_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include <shmkit/core/error.hpp>

namespace shmkit::detail {

namespace {

sockaddr_un address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    throw Error("store socket path '" + path + "' must be 1.." + std::to_string(sizeof(addr.sun_path) - 1) +
                " characters; choose a shorter path");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

int new_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_system_error("cannot create a socket for store '" + path + "'", errno);
  }
  return fd;
}

int poll_timeout_ms(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) {
    return -1;
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count() + 1;
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

}  // namespace

int listen_unix(const std::string& path, mode_t mode) {
  const sockaddr_un addr = address_of(path);
  const auto* sa = reinterpret_cast<const sockaddr*>(&addr);
  // A file left by a server that died is replaced; a live server is not.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw ExistsError("cannot serve a store on '" + path + "': a file that is not a socket exists there");
    }
    const int probe = new_socket(path);
    const bool live = ::connect(probe, sa, sizeof(addr)) == 0;
    ::close(probe);
    if (live) {
      throw ExistsError("a store server already listens on '" + path + "'; stop it or choose another socket");
    }
    ::unlink(path.c_str());
  }
  const int fd = new_socket(path);
  if (::bind(fd, sa, sizeof(addr)) != 0) {
    const int err = errno;
    ::close(fd);
    throw_errno("cannot bind store socket '" + path + "'", err, "; check that the directory exists and is writable");
  }
  // Connecting needs write permission on the file, so until chmod narrows
  // or widens it the umask's default already keeps other users out; the
  // SO_PEERCRED check applies regardless.
  if (::chmod(path.c_str(), mode) != 0 || ::listen(fd, 128) != 0 ||
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    throw_system_error("cannot set up store socket '" + path + "'", err);
  }
  return fd;
}

int connect_unix(const std::string& path, Clock::time_point deadline) {
  const sockaddr_un addr = address_of(path);
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    const int fd = new_socket(path);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
      return fd;
    }
    const int err = errno;
    ::close(fd);
    if (err != ENOENT && err != ECONNREFUSED && err != EAGAIN) {
      throw_system_error("cannot connect to store '" + path + "'", err);
    }
    if (Clock::now() >= deadline) {
      throw TimeoutError("no store server answered on '" + path + "' in time (" + std::strerror(err) +
                         "); start one with 'shmkit store -m SIZE -s " + path + "'");
    }
    // Retrying a connect to a server that is still starting: backing off
    // keeps a waiting client from spinning on the CPU the server needs.
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

bool send_all(int fd, std::span<const std::byte> bytes, std::span<const int> pass_fds) noexcept {
  if (pass_fds.size() > kMaxPassedFds) {
    return false;
  }
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    iovec iov{const_cast<std::byte*>(bytes.data() + sent), bytes.size() - sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
    if (!pass_fds.empty() && sent == 0) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * pass_fds.size());
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(sizeof(int) * pass_fds.size());
      std::memcpy(CMSG_DATA(cmsg), pass_fds.data(), sizeof(int) * pass_fds.size());
    }
    const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool recv_exact(int fd, std::span<std::byte> out, Clock::time_point deadline, std::span<int> received_fds,
                bool* timed_out) {
  std::size_t got = 0;
  if (timed_out != nullptr) {
    *timed_out = false;
  }
  while (got < out.size()) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, poll_timeout_ms(deadline));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready == 0) {
      if (Clock::now() < deadline) {
        continue;
      }
      if (timed_out != nullptr) {
        *timed_out = true;
      }
      return false;
    }
    iovec iov{out.data() + got, out.size() - got};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      return false;
    }
    if (n == 0) {
      return false;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
        continue;
      }
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int passed = -1;
        std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        const auto slot = std::find(received_fds.begin(), received_fds.end(), -1);
        if (slot != received_fds.end()) {
          *slot = passed;
        } else {
          ::close(passed);
        }
      }
    }
    got += static_cast<std::size_t>(n);
  }
  return true;
}

long peer_uid(int fd) noexcept {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return -1;
  }
  return static_cast<long>(cred.uid);
}

pid_t peer_pid(int fd) noexcept {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return 0;
  }
  return cred.pid;
}

}  // namespace shmkit::detail
