// shmkit log bench --instance NAME --out DIR --producers P --entries N --size BYTES [--sources S]
//
// A load generator: a logger in this process and P real producer processes
// that each log an onset entry and N entries of SIZE bytes. It prints the
// end-to-end rate (entries saved to record files per second, from the
// moment the producers are released until stop() has drained and synced),
// the producers' own rate, log() latency percentiles, and drops, and leaves
// the log directory for `shmkit log assemble`.

#include <shmkit/core/error.hpp>
#include <shmkit/logger/data_logger.hpp>
#include <shmkit/logger/log_writer.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/common/latency_histogram.hpp"
#include "cli/log/log_commands.hpp"
#include "core/detail/file_io.hpp"

namespace shmkit::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string instance;
  std::string out;
  unsigned producers = 2;
  std::uint64_t entries = 1'000'000;
  std::size_t size = 64;
  unsigned sources = 0;
  std::size_t ring_bytes = std::size_t{4} << 20;
  std::string policy = "block";
  std::string fsync = "interval";
};

/// What a producer process sends back through its pipe.
struct ProducerResult {
  std::uint64_t logged = 0;
  std::uint64_t dropped = 0;
  std::uint64_t elapsed_ns = 0;
  double ns_per_tick = 1.0;
  LatencyHistogram latency;
};

// Body of producer process `index`; runs in the forked child.
void produce(const BenchArgs& args, unsigned index, int go_fd, int result_fd) {
  LogWriterOptions options;
  options.policy = args.policy == "drop" ? FullPolicy::drop : FullPolicy::block;
  auto writer = LogWriter::connect(args.instance, options);
  const auto source = static_cast<std::uint8_t>(index % args.sources + 1);
  std::vector<std::byte> payload(args.size);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    payload[i] = std::byte(static_cast<unsigned char>(i * 31 + index));
  }
  auto result = std::make_unique<ProducerResult>();
  char go = 0;
  (void)::read(go_fd, &go, 1);  // EOF when the parent releases every producer at once
  if (index < args.sources) {
    (void)writer.write_onset(source);  // as real producers do; each source has one
  }
  const auto t0 = Clock::now();
  const std::uint64_t tick0 = ticks();
  for (std::uint64_t i = 0; i < args.entries; ++i) {
    const std::uint64_t time = writer.elapsed_us();
    const std::uint64_t before = ticks();
    const bool ok = writer.log(source, time, payload);
    result->latency.add(ticks() - before);
    (void)ok;
  }
  const std::uint64_t tick1 = ticks();
  const auto t1 = Clock::now();
  result->elapsed_ns = static_cast<std::uint64_t>(std::chrono::nanoseconds(t1 - t0).count());
  result->ns_per_tick =
      tick1 > tick0 ? static_cast<double>(result->elapsed_ns) / static_cast<double>(tick1 - tick0) : 1;
  const LogWriterStats stats = writer.stats();
  result->logged = stats.logged;
  result->dropped = stats.dropped;
  if (detail::write_all(result_fd, result.get(), sizeof *result) != 0) {
    throw Error("producer " + std::to_string(index) + " cannot report its results");
  }
}

struct Producer {
  pid_t pid = -1;
  int result_fd = -1;
};

FsyncPolicy parse_fsync(const std::string& text) {
  return text == "none" ? FsyncPolicy::none : (text == "always" ? FsyncPolicy::always : FsyncPolicy::interval);
}

void run_bench(BenchArgs args) {
  if (args.sources == 0) {
    args.sources = args.producers;
  }
  DataLoggerOptions options;
  options.max_writers = std::max(16U, args.producers);
  options.ring_bytes = args.ring_bytes;
  options.fsync = parse_fsync(args.fsync);
  DataLogger logger(args.out, args.instance, options);

  int go[2];
  if (::pipe(go) != 0) {
    throw Error("cannot create a pipe for the producers");
  }
  // Producers are forked before the logger's thread exists: forking a
  // multi-threaded process is only safe for async-signal-safe work.
  std::vector<Producer> producers;
  for (unsigned p = 0; p < args.producers; ++p) {
    int result[2];
    if (::pipe(result) != 0) {
      throw Error("cannot create a pipe for producer " + std::to_string(p));
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      throw Error("cannot fork producer " + std::to_string(p));
    }
    if (pid == 0) {
      ::close(go[1]);
      ::close(result[0]);
      int code = 0;
      try {
        produce(args, p, go[0], result[1]);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "shmkit: producer %u: %s\n", p, e.what());
        code = 1;
      }
      std::fflush(stdout);
      ::_exit(code);
    }
    ::close(result[1]);
    producers.push_back({pid, result[0]});
  }
  ::close(go[0]);
  logger.start();
  const auto t0 = Clock::now();
  ::close(go[1]);  // release every producer

  LatencyHistogram latency;
  std::uint64_t logged = 0;
  std::uint64_t dropped = 0;
  std::uint64_t producer_ns = 0;
  double ns_per_tick = 1.0;
  bool all_ok = true;
  auto result = std::make_unique<ProducerResult>();
  for (const Producer& p : producers) {
    if (detail::read_all(p.result_fd, result.get(), sizeof *result) == 0) {
      latency.merge(result->latency);
      logged += result->logged;
      dropped += result->dropped;
      producer_ns = std::max(producer_ns, result->elapsed_ns);
      ns_per_tick = result->ns_per_tick;
    } else {
      all_ok = false;
    }
    ::close(p.result_fd);
    int status = 0;
    ::waitpid(p.pid, &status, 0);
    all_ok = all_ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  const LoggerStats stats = logger.stop();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!all_ok) {
    throw Error("a producer process failed (see above); the log directory " + logger.log_directory().string() +
                " holds what was saved");
  }
  const double payload_mb = static_cast<double>(stats.bytes_saved) / 1e6;
  auto ns = [&](double q) { return static_cast<double>(latency.quantile(q)) * ns_per_tick; };
  std::printf("producers: %u x %llu entries of %zu bytes, %u sources, ring %zu bytes, policy %s\n", args.producers,
              static_cast<unsigned long long>(args.entries), args.size, args.sources, args.ring_bytes,
              args.policy.c_str());
  std::printf("saved: %llu entries, %.1f MB payload, in %.3f s (until drained and synced)\n",
              static_cast<unsigned long long>(stats.entries_saved), payload_mb, seconds);
  std::printf("throughput: %.0f entries/s, %.1f MB/s\n", static_cast<double>(stats.entries_saved) / seconds,
              payload_mb / seconds);
  std::printf("producer rate: %.0f entries/s (all producers, while logging)\n",
              producer_ns ? static_cast<double>(logged) / (static_cast<double>(producer_ns) / 1e9) : 0.0);
  std::printf("log() latency: p50 %.0f ns, p99 %.0f ns, p99.9 %.0f ns, max %.0f ns\n", ns(0.5), ns(0.99), ns(0.999),
              static_cast<double>(latency.max()) * ns_per_tick);
  std::printf("dropped: %llu\n", static_cast<unsigned long long>(dropped));
  std::printf("log directory: %s\n", logger.log_directory().string().c_str());
  std::fflush(stdout);
}

}  // namespace

void register_log_bench_command(CLI::App& log) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = log.add_subcommand(
      "bench", "Load generator: P producer processes log N entries each to a logger; prints rates, latency, drops");
  cmd->add_option("--instance", args->instance, "Logger instance name")->required();
  cmd->add_option("--out", args->out, "Output directory; logs go to OUT/NAME_data_log/")->required();
  cmd->add_option("--producers", args->producers, "Producer processes")
      ->capture_default_str()
      ->check(CLI::Range(1, 255));
  cmd->add_option("--entries", args->entries, "Entries per producer (after its onset entry)")->capture_default_str();
  cmd->add_option("--size", args->size, "Payload bytes per entry")->capture_default_str();
  cmd->add_option("--sources", args->sources, "Source ids used (1..S; producer p logs to p % S + 1); default P")
      ->check(CLI::Range(0, 255));
  cmd->add_option("--ring-bytes", args->ring_bytes, "Bytes per writer ring")->capture_default_str();
  cmd->add_option("--policy", args->policy, "Full-ring policy of the producers: block or drop")
      ->capture_default_str()
      ->check(CLI::IsMember({"block", "drop"}));
  cmd->add_option("--fsync", args->fsync, "Saver fsync policy: none, interval or always")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "interval", "always"}));
  cmd->callback([args] { run_bench(*args); });
}

}  // namespace shmkit::cli
