// An analysis process for build/examples/camera_ring: opens the camera's
// ring and counter by name, and for each new frame takes a seqlock snapshot
// of the newest slot (a consistent copy that never blocks the camera) and
// finds the bright square with xtensor.
//
// Run:   build/examples/camera_ring &
//        build/examples/analysis_snapshot [SECONDS]    (default 10)
#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>

#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xsort.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::stod(argv[1]) : 10.0;
  const auto open = [](const char* name) {
    // The camera may still be starting.
    for (int attempt = 0;; ++attempt) {
      try {
        return shmkit::SharedArray<std::uint16_t>::open(name);
      } catch (const shmkit::NotFoundError&) {
        if (attempt == 100) {
          throw;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  };
  const auto ring = open("example-camera-frames");
  auto count = shmkit::SharedArray<std::uint64_t>::open("example-camera-count");
  const std::size_t slots = ring.shape()[0];
  const std::size_t height = ring.shape()[1];
  const std::size_t width = ring.shape()[2];
  std::vector<std::uint16_t> copy(height * width);

  std::uint64_t seen = 0;
  std::uint64_t analysed = 0;
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::duration<double>(seconds)) {
    const std::uint64_t written = count.atomic(0).load(std::memory_order_acquire);
    if (written == seen) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    if (!ring.try_snapshot_slice(((written - 1) % slots) * height * width, std::span(copy))) {
      continue;  // the camera was writing all along; try the next frame
    }
    seen = written;
    const auto frame = xt::adapt(copy, std::vector<std::size_t>{height, width});
    const auto brightest = xt::argmax(xt::flatten(frame))();
    if (++analysed % 30 == 1) {
      std::cout << "frame " << copy[0] << ": mean " << xt::mean(frame)() << ", square near x = " << brightest % width
                << std::endl;
    }
  }
  std::cout << "analysed " << analysed << " frames" << std::endl;
  return 0;
}
