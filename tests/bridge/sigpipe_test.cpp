// hiredis writes with write(2), so a write to a Redis that has gone away
// raises SIGPIPE. The bridge blocks it on its own thread: the write must
// fail with EPIPE and the process must live on, with no SIGPIPE left to
// be delivered once the bridge returns.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "bridge/sigpipe_guard.hpp"

namespace shmkit::testing {
namespace {

// A pipe whose read end is closed: every write to it raises SIGPIPE.
struct BrokenPipe {
  int write_end = -1;
  BrokenPipe() {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    ::close(fds[0]);
    write_end = fds[1];
  }
  ~BrokenPipe() { ::close(write_end); }
};

bool sigpipe_pending() {
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

TEST(SigpipeGuard, AWriteToAClosedPeerOnAnotherThreadIsEpipe) {
  const BrokenPipe pipe;
  std::thread([&] {
    const detail::SigpipeBlockedOnThisThread guard;
    errno = 0;
    EXPECT_EQ(::write(pipe.write_end, "x", 1), -1);
    EXPECT_EQ(errno, EPIPE);
  }).join();
  EXPECT_FALSE(sigpipe_pending());
}

TEST(SigpipeGuard, TheSignalsRaisedOnTheCallingThreadAreDiscardedNotDeliveredLater) {
  const BrokenPipe pipe;
  {
    const detail::SigpipeBlockedOnThisThread guard;
    for (int i = 0; i < 3; ++i) {
      errno = 0;
      EXPECT_EQ(::write(pipe.write_end, "x", 1), -1);
      EXPECT_EQ(errno, EPIPE);
    }
    EXPECT_TRUE(sigpipe_pending());
  }
  // Still alive: the guard took the pending SIGPIPE before unblocking it.
  EXPECT_FALSE(sigpipe_pending());
}

}  // namespace
}  // namespace shmkit::testing
