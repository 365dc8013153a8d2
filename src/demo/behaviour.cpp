// The demo's behaviour task: trials of inter-trial interval, stimulus (left
// or right), response and outcome. Each change of state is published by name
// in the store and logged as text ("trial 3 stimulus left"). The response is
// judged from the analysis' newest column profile, read from the store as a
// zero-copy array: correct when the stimulus' half of the frame is the
// brighter one.

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <chrono>
#include <optional>
#include <random>
#include <string>

#include "demo/worker.hpp"

namespace shmkit::cli::demo {

namespace {

// Nullopt before the analysis published its first profile.
std::optional<bool> left_is_brighter(RigStore& store) {
  const std::optional<ArrayValue<float>> profile = store.find_array<float>(kProfileName);
  if (!profile || profile->size() < 2) {
    return std::nullopt;
  }
  const auto columns = profile->view();
  const auto half = static_cast<std::ptrdiff_t>(profile->size() / 2);
  return xt::sum(xt::view(columns, xt::range(0, half)))() >
         xt::sum(xt::view(columns, xt::range(half, xt::placeholders::_)))();
}

}  // namespace

std::map<std::string, std::uint64_t> run_behaviour(Worker& worker) {
  const BehaviourSettings& task = worker.config().behaviour;
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
    const bool hit = left_is_brighter(worker.store()) == left;  // no profile yet: a miss
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
