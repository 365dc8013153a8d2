#include "cli/common/stop_signals.hpp"

#include <pthread.h>

#include <system_error>

namespace shmkit::cli {

StopSignals::StopSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  if (const int rc = pthread_sigmask(SIG_BLOCK, &set_, nullptr); rc != 0) {
    throw std::system_error(rc, std::generic_category(), "cannot block SIGINT/SIGTERM");
  }
}

int StopSignals::wait() const {
  int signal = 0;
  while (sigwait(&set_, &signal) != 0) {
  }
  return signal;
}

const char* StopSignals::name(int signal) noexcept {
  return signal == SIGINT ? "SIGINT" : "SIGTERM";
}

}  // namespace shmkit::cli
