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

namespace {

// Read by the handler: set before the handlers are installed, cleared
// when the run ends.
void* volatile stop_target = nullptr;
void (*volatile stop_call)(void*) noexcept = nullptr;

void on_stop_signal(int /*signal*/) {
  if (void* target = stop_target; target != nullptr) {
    stop_call(target);
  }
}

}  // namespace

StopHandler::StopHandler(void* target, void (*stop)(void*) noexcept) {
  stop_call = stop;
  stop_target = target;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

StopHandler::~StopHandler() {
  stop_target = nullptr;
}

}  // namespace shmkit::cli
