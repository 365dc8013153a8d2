// The bridge over Redis: a name set in one store until another store sees
// it (two stores, two bridges, one Redis), bridged sets per second, and log
// entries forwarded per second. Redis is the one named by the environment
// variable SHMKIT_BENCH_REDIS (a redis:// or unix:// URL); without it every
// benchmark reports an error. bench/compare/bridge_compare.py starts a
// redis-server on loopback TCP and runs this next to redis-py.

#include <unistd.h>

#include <benchmark/benchmark.h>
#include <shmkit/bridge/bridge.hpp>
#include <shmkit/bridge/log_forward.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/log_writer.hpp>
#include <shmkit/store/brain.hpp>
#include <shmkit/store/store_server.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

const char* redis_url() {
  return std::getenv("SHMKIT_BENCH_REDIS");
}

std::string unique(const std::string& tag) {
  static int counter = 0;
  return "bench-" + std::to_string(::getpid()) + "-" + tag + "-" + std::to_string(counter++);
}

// A store with a bridge on its own thread.
class Host {
 public:
  Host(const std::string& prefix, const std::string& id)
      : socket_("/tmp/shmkit-" + unique(id) + ".sock"), server_(start(socket_)) {
    shmkit::BridgeOptions options;
    options.store_socket = socket_;
    options.namespaces = {"bench"};
    options.redis_url = redis_url();
    options.host_id = id;
    options.prefix = prefix;
    options.log = [](const std::string&) {};
    bridge_.emplace(shmkit::Bridge::create(options));
    thread_ = std::thread([this] { bridge_->run(); });
    while (!bridge_->stats().connected) {
      std::this_thread::yield();
    }
  }
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;
  ~Host() {
    bridge_->stop();
    thread_.join();
    server_.stop();
    ::unlink(socket_.c_str());
  }
  [[nodiscard]] shmkit::Brain brain() const { return shmkit::Brain::connect(socket_, "bench"); }

 private:
  static shmkit::StoreServer start(const std::string& socket) {
    shmkit::StoreOptions options;
    options.capacity = std::size_t{64} << 20;
    options.socket_path = socket;
    return shmkit::StoreServer::start(options);
  }
  std::string socket_;
  shmkit::StoreServer server_;
  std::optional<shmkit::Bridge> bridge_;
  std::thread thread_;
};

double percentile(std::vector<double>& ns, double p) {
  std::sort(ns.begin(), ns.end());
  return ns[static_cast<std::size_t>(p * static_cast<double>(ns.size() - 1))];
}

// A float64 set on host A until host B reads it: one iteration per set.
void BM_Bridge_SetVisibleOnOtherHost(benchmark::State& state) {
  if (redis_url() == nullptr) {
    state.SkipWithError("set SHMKIT_BENCH_REDIS to a Redis URL");
    return;
  }
  const std::string prefix = unique("p");
  Host a(prefix, "host-a");
  Host b(prefix, "host-b");
  shmkit::Brain on_a = a.brain();
  shmkit::Brain on_b = b.brain();
  std::vector<double> samples;
  double value = 0;
  for (auto _ : state) {
    value += 1;
    const auto start = Clock::now();
    on_a.set("x", value);
    for (;;) {
      const std::optional<double> seen = on_b.try_get<double>("x");
      if (seen && *seen == value) {
        break;
      }
    }
    const auto ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    state.SetIterationTime(ns / 1e9);
    samples.push_back(ns);
  }
  state.counters["p50_ns"] = percentile(samples, 0.5);
  state.counters["p99_ns"] = percentile(samples, 0.99);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Bridge_SetVisibleOnOtherHost)->UseManualTime()->Iterations(2000);

// 2000 distinct names set on A, until B holds every one.
void BM_Bridge_SetsPerSecond(benchmark::State& state) {
  if (redis_url() == nullptr) {
    state.SkipWithError("set SHMKIT_BENCH_REDIS to a Redis URL");
    return;
  }
  constexpr int kNames = 2000;
  const std::string prefix = unique("p");
  Host a(prefix, "host-a");
  Host b(prefix, "host-b");
  shmkit::Brain on_a = a.brain();
  shmkit::Brain on_b = b.brain();
  double round = 0;
  for (auto _ : state) {
    round += 1;
    for (int i = 0; i < kNames; ++i) {
      on_a.set("k" + std::to_string(i), round);
    }
    for (int i = 0; i < kNames; ++i) {
      for (;;) {
        const std::optional<double> seen = on_b.try_get<double>("k" + std::to_string(i));
        if (seen && *seen == round) {
          break;
        }
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * kNames);
}
BENCHMARK(BM_Bridge_SetsPerSecond)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// Entries of state.range(0) bytes from one writer through `shmkit log
// forward`'s forwarder into Redis: from the first log() until Redis holds
// the last one. Each iteration writes a stream of its own (the compare
// script empties Redis afterwards).
void BM_Bridge_ForwardLogEntries(benchmark::State& state) {
  if (redis_url() == nullptr) {
    state.SkipWithError("set SHMKIT_BENCH_REDIS to a Redis URL");
    return;
  }
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::uint64_t entries = size >= (std::size_t{1} << 20) ? 256 : 300000;
  const std::string instance = unique("log");
  shmkit::LogForwarderOptions options;
  options.instance = instance;
  options.redis_url = redis_url();
  options.host_id = "bench";
  options.log = [](const std::string&) {};
  shmkit::DataLoggerOptions logger;
  logger.max_writers = 2;
  logger.ring_bytes = std::size_t{16} << 20;
  logger.idle_sleep = std::chrono::microseconds(200);
  std::vector<std::byte> payload(size, std::byte{0x5a});
  std::uint64_t forwarded = 0;
  for (auto _ : state) {
    options.prefix = unique("p");
    options.state_dir = "/tmp/shmkit-" + unique("forward-state");  // removed below
    shmkit::LogForwarder forwarder(options, logger);
    forwarder.start();
    shmkit::LogWriter writer = shmkit::LogWriter::connect(instance, {.block_timeout = std::chrono::seconds(30)});
    const auto start = Clock::now();
    for (std::uint64_t i = 1; i <= entries; ++i) {
      writer.log(1, i, payload);
    }
    while (forwarder.stats().forwarded < entries) {
      std::this_thread::yield();
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
    forwarded += entries;
    forwarder.stop();
    std::filesystem::remove_all(options.state_dir);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(forwarded));
  state.SetBytesProcessed(static_cast<std::int64_t>(forwarded * size));
  shmkit::DataLogger::remove_segment(instance);
}
BENCHMARK(BM_Bridge_ForwardLogEntries)
    ->Arg(100)
    ->Arg(1 << 20)
    ->UseManualTime()
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
