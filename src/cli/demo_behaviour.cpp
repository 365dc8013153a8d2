// The demo's behaviour task: trials of inter-trial interval, stimulus (left
// or right), response and outcome. Each change of state is published by name
// in the store and logged as text ("trial 3 stimulus left"). The response is
// judged from the analysis' newest result, read from the store: correct when
// the spot is on the stimulus' side of the frame.

#include <chrono>
#include <random>
#include <string>

#include "demo_worker.hpp"

namespace shmkit::cli::demo {

std::map<std::string, std::uint64_t> run_behaviour(Worker& worker) {
  const BehaviourSettings& task = worker.config().behaviour;
  const std::uint32_t width = worker.config().camera.width;
  // The task publishes the settings it runs with, for every other process.
  worker.store().set(kBehaviourConfigName, task);
  std::mt19937_64 random(task.seed);

  worker.start();
  std::uint64_t trials = 0;
  std::uint64_t events = 0;
  std::uint64_t correct = 0;
  std::uint64_t trial = 0;
  auto enter = [&](const std::string& state, std::uint32_t duration_ms) {
    const std::string event = "trial " + std::to_string(trial) + " " + state;
    worker.store().set(kBehaviourStateName, event);
    (void)worker.log(event);
    ++events;
    return worker.sleep_until(Worker::Clock::now() + std::chrono::milliseconds(duration_ms));
  };
  while (!worker.stop_requested()) {
    ++trial;
    const bool left = (random() & 1) != 0;
    if (!enter("iti", task.iti_ms) || !enter(left ? "stimulus left" : "stimulus right", task.stimulus_ms) ||
        !enter("response", task.response_ms)) {
      break;
    }
    const std::optional<FrameStats> seen = worker.store().find<FrameStats>(kStatsName);
    const bool hit = seen && (seen->peak_x < width / 2) == left;
    correct += hit ? 1 : 0;
    if (!enter(hit ? "reward" : "timeout", task.outcome_ms)) {
      break;
    }
    ++trials;
    worker.counter(kTrials).fetch_add(1, std::memory_order_relaxed);
  }
  return {{"trials", trials}, {"events", events}, {"correct", correct}};
}

}  // namespace shmkit::cli::demo
