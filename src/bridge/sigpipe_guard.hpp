#pragma once
// hiredis writes with write(2), not send(MSG_NOSIGNAL): a write to a Redis
// that was killed raises SIGPIPE, whose default action would kill the
// whole process the bridge runs in. Blocking it on the bridge's thread
// turns it into EPIPE (a RedisError, then a reconnect) without touching
// the process's own disposition; the pending signals are discarded
// before the mask is restored, so none is delivered later.

#include <pthread.h>
#include <signal.h>

#include <ctime>

namespace shmkit::detail {

class SigpipeBlockedOnThisThread {
 public:
  SigpipeBlockedOnThisThread() noexcept {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &sigpipe_, &original_);
  }
  ~SigpipeBlockedOnThisThread() {
    if (!already_pending_) {
      const timespec now{};
      while (::sigtimedwait(&sigpipe_, nullptr, &now) == SIGPIPE) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &original_, nullptr);
  }
  SigpipeBlockedOnThisThread(const SigpipeBlockedOnThisThread&) = delete;
  SigpipeBlockedOnThisThread& operator=(const SigpipeBlockedOnThisThread&) = delete;

 private:
  sigset_t sigpipe_{};
  sigset_t original_{};
  bool already_pending_ = false;
};

}  // namespace shmkit::detail
