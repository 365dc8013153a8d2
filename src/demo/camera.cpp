// The demo's camera: renders each frame straight into a slot loaned from
// the frames channel (no copy on the way to the analysis), logs it whole,
// publishes it, and bumps the frame counter.
//
// The channel never blocks the camera: a subscriber that falls behind
// misses frames, it does not slow the acquisition. A loan fails only when
// every slot is held or on loan; the frame is then rendered into a buffer
// of the camera's own, logged as usual and counted as unpublished.

#include <shmkit/channel/channel.hpp>

#include <chrono>
#include <vector>

#include "demo/frames.hpp"
#include "demo/worker.hpp"

namespace shmkit::cli::demo {

std::map<std::string, std::uint64_t> run_camera(Worker& worker) {
  const CameraSettings& camera = worker.config().camera;
  const Channel channel = Channel::open(worker.names().frames());
  channel.expect(SampleSpec::array(Dtype::u2, {camera.height, camera.width}));
  DynamicPublisher publisher = channel.publisher();
  FrameSynth synth(camera.height, camera.width);
  std::vector<std::uint16_t> spare(std::size_t{camera.height} * camera.width);
  const auto period =
      std::chrono::duration_cast<Worker::Clock::duration>(std::chrono::duration<double>(1.0 / camera.frame_rate_hz));

  worker.start();
  const auto start = Worker::Clock::now();
  std::uint64_t number = 0;
  std::uint64_t unpublished = 0;
  while (worker.sleep_until(start + period * static_cast<std::int64_t>(number))) {
    const double seconds = std::chrono::duration<double>(Worker::Clock::now() - start).count();
    if (std::optional<Loan> loan = publisher.loan()) {
      const std::span<std::uint16_t> frame = loan->span<std::uint16_t>();
      synth.render(number, seconds, frame);
      (void)worker.log(std::as_bytes(frame));
      publisher.publish(std::move(*loan));
    } else {
      synth.render(number, seconds, spare);
      (void)worker.log(std::as_bytes(std::span(spare)));
      ++unpublished;
    }
    worker.counter(kFramesWritten).store(number + 1, std::memory_order_release);
    ++number;
  }
  return {{"frames", number}, {"published", number - unpublished}, {"unpublished", unpublished}};
}

}  // namespace shmkit::cli::demo
