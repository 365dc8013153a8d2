// The demo's analysis: watches the frame counter, takes a seqlock snapshot
// of the newest frame in the ring (never blocking the camera), computes its
// statistic (mean and brightest pixel, a FrameStats struct) and its column
// profile (a float32 array), publishes both by name and logs the statistic.
//
// A logged result is 26 bytes, little-endian: frame number u64, mean f64,
// peak u16, peak x u32, peak y u32 (numpy: np.dtype([("frame", "<u8"),
// ("mean", "<f8"), ("peak", "<u2"), ("x", "<u4"), ("y", "<u4")])).

#include <shmkit/array/shared_array.hpp>

#include <array>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "demo/frames.hpp"
#include "demo/worker.hpp"

namespace shmkit::cli::demo {

namespace {

constexpr std::size_t kResultBytes = 26;

std::array<std::byte, kResultBytes> encode_result(const FrameStats& stats) noexcept {
  std::array<std::byte, kResultBytes> out{};
  std::byte* p = out.data();
  auto put = [&p](const auto& value) {
    std::memcpy(p, &value, sizeof value);
    p += sizeof value;
  };
  put(stats.frame);
  put(stats.mean);
  put(stats.peak);
  put(stats.peak_x);
  put(stats.peak_y);
  return out;
}

}  // namespace

std::map<std::string, std::uint64_t> run_analysis(Worker& worker) {
  const CameraSettings& camera = worker.config().camera;
  const std::size_t pixels = std::size_t{camera.height} * camera.width;
  const std::vector<std::size_t> shape{camera.ring_frames, camera.height, camera.width};
  const auto ring = SharedArray<std::uint16_t>::open(worker.names().frames(), std::span(shape));
  const auto poll = std::chrono::microseconds(worker.config().analysis.poll_interval_us);
  std::vector<std::uint16_t> copy(pixels);

  worker.start();
  std::uint64_t next = 0;  // first frame number not analysed yet
  std::uint64_t analysed = 0;
  std::uint64_t retried = 0;
  std::uint64_t torn = 0;
  while (!worker.stop_requested()) {
    const std::uint64_t written = worker.counter(kFramesWritten).load(std::memory_order_acquire);
    if (written <= next) {
      std::this_thread::sleep_for(poll);
      continue;
    }
    const std::uint64_t slot = (written - 1) % camera.ring_frames;
    if (!ring.try_snapshot_slice(slot * pixels, std::span(copy))) {
      ++retried;  // the camera kept the ring busy; the next round takes a newer frame
      continue;
    }
    // The slot holds the newest frame, or an even newer one if the camera
    // went round the ring meanwhile; anything else is a torn copy.
    const std::optional<std::uint64_t> number = read_stamp(copy);
    if (!number || *number % camera.ring_frames != slot || *number + 1 < written) {
      ++torn;
      continue;
    }
    const FrameStats stats = analyse_frame(copy, camera.height, camera.width, *number);
    // Both values in one round trip; each reader sees the old or the new one.
    const std::array<NamedValue, 2> results{
        NamedValue(kStatsName, stats), NamedValue(kProfileName, column_profile(copy, camera.height, camera.width))};
    worker.store().set_many(results);
    (void)worker.log(encode_result(stats));
    worker.counter(kFramesAnalysed).fetch_add(1, std::memory_order_relaxed);
    ++analysed;
    next = *number + 1;
  }
  return {{"analysed", analysed}, {"retried", retried}, {"torn", torn}};
}

}  // namespace shmkit::cli::demo
