// The demo's camera: renders frames at the configured rate, writes each into
// the next slot of the shared ring under the ring's lock (a seqlock write
// section, so readers never keep a torn copy), then publishes it by bumping
// the frame counter, and logs it whole.

#include <shmkit/array/shared_array.hpp>

#include <chrono>
#include <cstring>
#include <vector>

#include "demo/frames.hpp"
#include "demo/worker.hpp"

namespace shmkit::cli::demo {

std::map<std::string, std::uint64_t> run_camera(Worker& worker) {
  const CameraSettings& camera = worker.config().camera;
  const std::size_t pixels = std::size_t{camera.height} * camera.width;
  const std::vector<std::size_t> shape{camera.ring_frames, camera.height, camera.width};
  auto ring = SharedArray<std::uint16_t>::open(worker.names().frames(), std::span(shape));
  FrameSynth synth(camera.height, camera.width);
  std::vector<std::uint16_t> frame(pixels);
  const auto period =
      std::chrono::duration_cast<Worker::Clock::duration>(std::chrono::duration<double>(1.0 / camera.frame_rate_hz));

  worker.start();
  const auto start = Worker::Clock::now();
  std::uint64_t number = 0;
  while (worker.sleep_until(start + period * static_cast<std::int64_t>(number))) {
    synth.render(number, std::chrono::duration<double>(Worker::Clock::now() - start).count(), frame);
    {
      const ArrayLock lock = ring.lock();
      std::memcpy(ring.data() + (number % camera.ring_frames) * pixels, frame.data(), pixels * sizeof(std::uint16_t));
    }
    worker.counter(kFramesWritten).store(number + 1, std::memory_order_release);
    (void)worker.log(std::as_bytes(std::span(frame)));
    ++number;
  }
  return {{"frames", number}};
}

}  // namespace shmkit::cli::demo
