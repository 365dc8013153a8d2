// A camera-like publisher and an analysis subscriber in two processes,
// sharing 480x640 uint16 frames through a channel without copying them.
//
//   build/examples/channel_quickstart

#include <shmkit/channel/channel.hpp>
#include <shmkit/channel/typed.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>

#include <xtensor/xmath.hpp>

int main() {
  using namespace std::chrono_literals;
  const std::string name = "quickstart-frames-" + std::to_string(::getpid());
  constexpr int kFrames = 5;

  auto channel = shmkit::Channel::create(
      name, {.sample = shmkit::SampleSpec::array(shmkit::Dtype::u2, {480, 640}), .slots = 8, .history = 2});
  // Subscribe before forking the publisher, so no frame is published
  // before anyone listens (history would cover 2 of them anyway).
  auto analysis = channel.subscriber();

  const pid_t camera = ::fork();
  if (camera == 0) {
    auto pub = shmkit::Channel::open(name).publisher();
    for (int frame = 0; frame < kFrames; ++frame) {
      auto loan = pub.loan(1s);  // a slot of the pool, written in place
      if (!loan) {
        ::_exit(1);
      }
      loan->view<std::uint16_t>().fill(static_cast<std::uint16_t>(frame));
      pub.publish(std::move(*loan));
    }
    ::_exit(0);
  }

  for (int received = 0; received < kFrames;) {
    auto frame = analysis.receive(5s);  // futex sleep until the camera publishes
    if (!frame) {
      std::cerr << "no frame within 5 s\n";
      break;
    }
    const auto view = frame->view<std::uint16_t>();  // read-only, zero-copy
    std::cout << "frame " << frame->sequence() << ": mean " << xt::mean(view)() << ", " << view.shape()[0] << "x"
              << view.shape()[1] << '\n';
    ++received;
  }
  std::cout << "missed " << analysis.missed() << " frames\n";
  ::waitpid(camera, nullptr, 0);
  shmkit::Channel::remove(name);
  return 0;
}
