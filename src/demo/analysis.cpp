// The demo's analysis: subscribes to the frames channel and, whenever a
// frame is published, takes the newest one (`latest()`: a slow analysis
// passes over older frames instead of falling behind), reads it in place,
// computes its statistic (mean and brightest pixel, a FrameStats struct)
// and its column profile (a float32 array), publishes both by name and
// logs the statistic. How long each frame took from the camera's publish
// to this process' receive is recorded for the summary.
//
// A logged result is 26 bytes, little-endian: frame number u64, mean f64,
// peak u16, peak x u32, peak y u32 (numpy: np.dtype([("frame", "<u8"),
// ("mean", "<f8"), ("peak", "<u2"), ("x", "<u4"), ("y", "<u4")])).

#include <shmkit/channel/channel.hpp>

#include <array>
#include <chrono>
#include <cstring>

#include "demo/frames.hpp"
#include "demo/worker.hpp"

namespace shmkit::cli::demo {

namespace {

constexpr std::size_t kResultBytes = 26;
// How late the analysis notices the stop request at most, while no frame comes.
constexpr auto kWaitSlice = std::chrono::milliseconds(20);

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

std::uint64_t steady_ns() noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace

std::map<std::string, std::uint64_t> run_analysis(Worker& worker) {
  const CameraSettings& camera = worker.config().camera;
  const Channel channel = Channel::open(worker.names().frames());
  channel.expect(SampleSpec::array(Dtype::u2, {camera.height, camera.width}));
  DynamicSubscriber frames = channel.subscriber({.start = SubscriberStart::now});

  worker.start();
  std::uint64_t analysed = 0;
  std::uint64_t torn = 0;
  std::uint64_t last_number = 0;
  while (!worker.stop_requested()) {
    if (!frames.wait(kWaitSlice)) {
      continue;
    }
    const std::optional<Sample> sample = frames.latest();
    if (!sample) {
      continue;
    }
    worker.frame_latency().add(steady_ns() - sample->publish_ns());
    const std::span<const std::uint16_t> frame = sample->span<std::uint16_t>();
    // The channel hands out only published frames and keeps them while
    // they are held, so both stamps agree and numbers only grow; a frame
    // that breaks this would mean the channel let the camera overwrite it.
    const std::optional<std::uint64_t> number = read_stamp(frame);
    if (!number || (analysed > 0 && *number <= last_number)) {
      ++torn;
      continue;
    }
    last_number = *number;
    const FrameStats stats = analyse_frame(frame, camera.height, camera.width, *number);
    // Both values in one call; each reader sees the old or the new one.
    const std::array<NamedValue, 2> results{
        NamedValue(kStatsName, stats), NamedValue(kProfileName, column_profile(frame, camera.height, camera.width))};
    worker.store().set_many(results);
    (void)worker.log(encode_result(stats));
    worker.counter(kFramesAnalysed).fetch_add(1, std::memory_order_relaxed);
    ++analysed;
  }
  return {{"analysed", analysed}, {"passed_over", frames.skipped()}, {"missed", frames.missed()}, {"torn", torn}};
}

}  // namespace shmkit::cli::demo
