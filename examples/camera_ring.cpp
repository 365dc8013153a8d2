// A camera process: a ring of 512x512 uint16 frames in shared memory and an
// atomic frame counter. Each frame is written into the next slot under the
// ring's lock (a seqlock write section, so a reader's snapshot is never
// torn), then published by bumping the counter; a reader finds the newest
// frame in slot (count - 1) % 8.
//
// Run:   build/examples/camera_ring [SECONDS]          (default 20; Ctrl-C stops it)
// and, in another shell while it runs:
//        build/examples/analysis_snapshot
// or watch from Python with numpy alone:
//        /usr/bin/python3 -c "import sys; sys.path.insert(0, 'python'); import shmkit_array;
//        print(shmkit_array.attach('example-camera-count').array)"
// The arrays are removed when it exits; after a crash `shmkit gc` removes them.
#include <shmkit/array/shared_array.hpp>

#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <string>
#include <thread>

namespace {

constexpr std::size_t kSlots = 8;
constexpr std::size_t kHeight = 512;
constexpr std::size_t kWidth = 512;
constexpr std::size_t kSquare = 32;

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_interrupt(int) {
  g_stop = 1;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::stod(argv[1]) : 20.0;
  std::signal(SIGINT, on_interrupt);  // stop the loop, so that the arrays are removed on the way out
  auto ring = shmkit::SharedArray<std::uint16_t>::create("example-camera-frames", {kSlots, kHeight, kWidth},
                                                         {.unlink_on_close = true});
  auto count = shmkit::SharedArray<std::uint64_t>::create("example-camera-count", {1}, {.unlink_on_close = true});
  std::cout << "camera: 30 frames/s into 'example-camera-frames' " << kSlots << "x" << kHeight << "x" << kWidth
            << ", count in 'example-camera-count'" << std::endl;

  xt::xtensor<std::uint16_t, 2> frame = xt::zeros<std::uint16_t>({kHeight, kWidth});
  const auto period = std::chrono::microseconds(33'333);
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t n = 0;
  for (; g_stop == 0 && std::chrono::steady_clock::now() - start < std::chrono::duration<double>(seconds); ++n) {
    // A bright square sliding right over a dim background; the frame
    // number in pixel (0, 0) lets a reader tell which frame it holds.
    frame.fill(100);
    const std::size_t x = (n * 4) % (kWidth - kSquare);
    xt::view(frame, xt::range(240, 240 + kSquare), xt::range(x, x + kSquare)) = 1000;
    frame(0, 0) = static_cast<std::uint16_t>(n);
    {
      const shmkit::ArrayLock lock = ring.lock();
      xt::view(ring.view(), n % kSlots) = frame;
    }
    count.atomic(0).store(n + 1, std::memory_order_release);
    std::this_thread::sleep_until(start + period * static_cast<long>(n + 1));
  }
  std::cout << "camera: wrote " << n << " frames" << std::endl;
  return 0;
}
