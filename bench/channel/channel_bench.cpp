// Channel benchmarks between real processes, each next to its peers in the
// same run: one-way latency (half a busy-wait ping-pong) of 64 B and 4 MiB
// samples next to a Unix socket and a POSIX message queue doing the same
// ping-pong, the rate of 64 B samples to one subscriber, and one publisher
// feeding 4 subscribers 4 MiB frames. bench/compare/channel_compare.py runs
// this binary (and the array module's ping-pong) and prints the ratios.
//
// Latency benchmarks time each round trip on its own and report the median
// and 99th percentile of half of it as the counters p50_ns and p99_ns. They
// read the TSC for that, not steady_clock: clock_gettime costs 40-90 ns in
// this VM, and a round trip timed with it included one such call, a fifth
// of the channel's one-way figure. The counter timer_ns is what one timer
// read still adds to a round trip.

#include <shmkit/channel/channel.hpp>
#include <shmkit/core/error.hpp>

#include <benchmark/benchmark.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::uint64_t kStop = ~std::uint64_t{0};
constexpr std::size_t kSmall = 64;
constexpr std::size_t kLarge = std::size_t{4} << 20;

std::string bench_name(const char* tag) {
  return "shmkit-bench-" + std::to_string(::getpid()) + "-" + tag;
}

// Removes a channel when the benchmark ends, however it ends.
struct ChannelName {
  explicit ChannelName(const char* tag) : name(bench_name(tag)) {}
  ChannelName(const ChannelName&) = delete;
  ChannelName& operator=(const ChannelName&) = delete;
  ~ChannelName() { shmkit::Channel::remove(name); }
  std::string name;
};

shmkit::SampleSpec spec_of(std::size_t bytes) {
  return shmkit::SampleSpec::array(shmkit::Dtype::u1, {bytes});
}

std::uint64_t first_word(std::span<const std::byte> bytes) {
  std::uint64_t value = 0;
  std::memcpy(&value, bytes.data(), sizeof value);
  return value;
}

void set_first_word(std::span<std::byte> bytes, std::uint64_t value) {
  std::memcpy(bytes.data(), &value, sizeof value);
}

// Times round trips in TSC ticks (a few ns to read; the TSC is constant-rate
// on every x86 core Linux runs on) and turns ticks into ns with a rate
// measured against steady_clock once per process. Elsewhere it reads
// steady_clock.
class RoundTripTimer {
 public:
  static std::uint64_t now() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
  }

  static double ns_per_tick() {
    static const double rate = [] {
      const auto t0 = std::chrono::steady_clock::now();
      const std::uint64_t c0 = now();
      while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50)) {
      }
      const auto t1 = std::chrono::steady_clock::now();
      const std::uint64_t c1 = now();
      return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(c1 - c0);
    }();
    return rate;
  }

  // What a timed interval includes besides the work: the median of many
  // back-to-back reads, in ns.
  static double overhead_ns() {
    std::vector<std::uint64_t> deltas(1001);
    for (auto& delta : deltas) {
      const std::uint64_t a = now();
      delta = now() - a;
    }
    std::nth_element(deltas.begin(), deltas.begin() + 500, deltas.end());
    return static_cast<double>(deltas[500]) * ns_per_tick();
  }
};

// Median and 99th percentile of `samples` (ns), as counters, and the timer's own cost.
void report_percentiles(benchmark::State& state, std::vector<double>& samples) {
  if (samples.empty()) {
    return;
  }
  std::sort(samples.begin(), samples.end());
  state.counters["p50_ns"] = samples[samples.size() / 2];
  state.counters["p99_ns"] = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
  state.counters["timer_ns"] = RoundTripTimer::overhead_ns();
}

pid_t fork_child() {
  const pid_t child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
  }
  return child;
}

// Every ping-pong run starts after the machine has been idle for a moment.
// Run back to back, each ping-pong after the first of the program measured
// 30-50 ns slower than that first one, whatever the sample size: 64 B after
// 64 B as much as 4 MiB after 64 B (measured on the 2-core development VM,
// where two processes spinning on both cores for a while slow each other
// down; with 0.3-1 s of idle before each run the rows ran alike). Without
// the rest the order of the rows (64 B first, then 4 MiB, each repeated)
// showed up as a difference between sizes. Not timed (manual time).
void rest_before_run() {
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
}

void reap(pid_t child) {
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
}

// Busy-waits for the next sample; nullopt if `child` died meanwhile.
std::optional<shmkit::Sample> spin_receive(shmkit::DynamicSubscriber& sub, pid_t child) {
  for (std::uint64_t spins = 1;; ++spins) {
    if (auto sample = sub.receive()) {
      return sample;
    }
    if (spins % (1U << 22) == 0 && child > 0 && ::waitpid(child, nullptr, WNOHANG) != 0) {
      return std::nullopt;
    }
  }
}

std::optional<shmkit::Loan> spin_loan(shmkit::DynamicPublisher& pub) {
  for (std::uint64_t spins = 1;; ++spins) {
    if (auto loan = pub.loan()) {
      return loan;
    }
    if (spins % (1U << 22) == 0) {
      if (auto loan = pub.loan(std::chrono::seconds(5))) {
        return loan;
      }
      return std::nullopt;
    }
  }
}

// ---- channel ping-pong -------------------------------------------------------

[[noreturn]] void channel_echo(const std::string& ping_name, const std::string& pong_name) {
  auto ping = shmkit::Channel::open(ping_name).subscriber({.start = shmkit::SubscriberStart::now});
  auto pong = shmkit::Channel::open(pong_name).publisher();
  for (;;) {
    auto sample = spin_receive(ping, 0);
    const std::uint64_t value = first_word(sample->bytes());
    auto loan = spin_loan(pong);
    if (!loan) {
      ::_exit(1);
    }
    set_first_word(loan->bytes(), value);
    pong.publish(std::move(*loan));
    if (value == kStop) {
      ::_exit(0);
    }
  }
}

// One-way latency of a sample of `state.range(0)` bytes: the publisher
// writes a sequence number into it (nothing else: the payload is never
// copied), the echo process receives it and publishes it back on a second
// channel.
void BM_Channel_PingPong(benchmark::State& state) {
  rest_before_run();
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const ChannelName ping_name("ping");
  const ChannelName pong_name("pong");
  shmkit::ChannelOptions options{.sample = spec_of(bytes), .slots = 4, .history = 1, .max_subscribers = 1};
  auto ping_channel = shmkit::Channel::create(ping_name.name, options);
  auto pong_channel = shmkit::Channel::create(pong_name.name, options);
  auto pong = pong_channel.subscriber({.start = shmkit::SubscriberStart::now});
  auto ping = ping_channel.publisher();
  const pid_t child = fork_child();
  if (child < 0) {
    state.SkipWithError("fork failed");
    return;
  }
  if (child == 0) {
    channel_echo(ping_name.name, pong_name.name);
  }
  // The echo process subscribes before it publishes; wait for its subscription.
  while (ping_channel.info().subscribers.empty() || !pong_channel.info().publisher) {
    std::this_thread::yield();
  }
  std::vector<double> one_way;
  one_way.reserve(static_cast<std::size_t>(state.max_iterations));
  const double ns_per_tick = RoundTripTimer::ns_per_tick();
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    const std::uint64_t start = RoundTripTimer::now();
    auto loan = spin_loan(ping);
    set_first_word(loan->bytes(), ++sequence);
    ping.publish(std::move(*loan));
    auto reply = spin_receive(pong, child);
    const double elapsed = static_cast<double>(RoundTripTimer::now() - start) * ns_per_tick;
    if (!reply || first_word(reply->bytes()) != sequence) {
      state.SkipWithError("the echo process died or answered out of order");
      break;
    }
    state.SetIterationTime(elapsed / 2e9);
    one_way.push_back(elapsed / 2);
  }
  if (auto loan = spin_loan(ping)) {
    set_first_word(loan->bytes(), kStop);
    ping.publish(std::move(*loan));
  }
  reap(child);
  report_percentiles(state, one_way);
}
BENCHMARK(BM_Channel_PingPong)->Arg(kSmall)->Arg(kLarge)->UseManualTime()->Iterations(20000);

// ---- Unix socket ping-pong ---------------------------------------------------

bool write_all(int fd, const std::byte* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, std::byte* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::read(fd, data, size);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// The same ping-pong through a Unix stream socket pair: every message is
// copied into the kernel and out again on each side.
void BM_Channel_UnixSocketPingPong(benchmark::State& state) {
  rest_before_run();
  const auto bytes = static_cast<std::size_t>(state.range(0));
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  const pid_t child = fork_child();
  if (child < 0) {
    state.SkipWithError("fork failed");
    return;
  }
  std::vector<std::byte> buffer(bytes);
  if (child == 0) {
    ::close(fds[0]);
    while (read_all(fds[1], buffer.data(), bytes) && write_all(fds[1], buffer.data(), bytes)) {
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::vector<double> one_way;
  one_way.reserve(static_cast<std::size_t>(state.max_iterations));
  const double ns_per_tick = RoundTripTimer::ns_per_tick();
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    const std::uint64_t start = RoundTripTimer::now();
    set_first_word(buffer, ++sequence);
    if (!write_all(fds[0], buffer.data(), bytes) || !read_all(fds[0], buffer.data(), bytes)) {
      state.SkipWithError("the echo process died");
      break;
    }
    const double elapsed = static_cast<double>(RoundTripTimer::now() - start) * ns_per_tick;
    state.SetIterationTime(elapsed / 2e9);
    one_way.push_back(elapsed / 2);
  }
  ::close(fds[0]);  // the echo process reads EOF and exits
  reap(child);
  report_percentiles(state, one_way);
}
BENCHMARK(BM_Channel_UnixSocketPingPong)->Arg(kSmall)->Arg(kLarge)->UseManualTime()->Iterations(2000);

// ---- POSIX message queue ping-pong ---------------------------------------------

long mqueue_limit() {
  std::ifstream in("/proc/sys/fs/mqueue/msgsize_max");
  long limit = 0;
  in >> limit;
  return limit;
}

// The same ping-pong through two POSIX message queues. A message may not
// exceed /proc/sys/fs/mqueue/msgsize_max (8 KiB by default), so the 4 MiB
// case runs only where root has raised it.
void BM_Channel_MqueuePingPong(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const std::string ping_name = "/" + bench_name("mq-ping");
  const std::string pong_name = "/" + bench_name("mq-pong");
  mq_attr attr{};
  attr.mq_maxmsg = 1;
  attr.mq_msgsize = static_cast<long>(bytes);
  const mqd_t ping = ::mq_open(ping_name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
  const mqd_t pong = ::mq_open(pong_name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
  const int open_error = errno;
  ::mq_unlink(ping_name.c_str());  // the descriptors keep them; nothing is left behind
  ::mq_unlink(pong_name.c_str());
  if (ping == static_cast<mqd_t>(-1) || pong == static_cast<mqd_t>(-1)) {
    const std::string why = "mq_open of " + std::to_string(bytes) +
                            "-byte messages failed: " + std::strerror(open_error) + " (msgsize_max is " +
                            std::to_string(mqueue_limit()) + ")";
    state.SkipWithError(why.c_str());
    return;
  }
  rest_before_run();
  std::vector<char> buffer(bytes);
  const pid_t child = fork_child();
  if (child < 0) {
    state.SkipWithError("fork failed");
    return;
  }
  if (child == 0) {
    for (;;) {
      if (::mq_receive(ping, buffer.data(), bytes, nullptr) < 0 && errno != EINTR) {
        ::_exit(1);
      }
      std::uint64_t value = 0;
      std::memcpy(&value, buffer.data(), sizeof value);
      ::mq_send(pong, buffer.data(), bytes, 0);
      if (value == kStop) {
        ::_exit(0);
      }
    }
  }
  std::vector<double> one_way;
  one_way.reserve(static_cast<std::size_t>(state.max_iterations));
  const double ns_per_tick = RoundTripTimer::ns_per_tick();
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    const std::uint64_t start = RoundTripTimer::now();
    ++sequence;
    std::memcpy(buffer.data(), &sequence, sizeof sequence);
    if (::mq_send(ping, buffer.data(), bytes, 0) != 0 || ::mq_receive(pong, buffer.data(), bytes, nullptr) < 0) {
      state.SkipWithError("mq_send / mq_receive failed");
      break;
    }
    const double elapsed = static_cast<double>(RoundTripTimer::now() - start) * ns_per_tick;
    state.SetIterationTime(elapsed / 2e9);
    one_way.push_back(elapsed / 2);
  }
  std::memcpy(buffer.data(), &kStop, sizeof kStop);
  ::mq_send(ping, buffer.data(), bytes, 0);
  reap(child);
  ::mq_close(ping);
  ::mq_close(pong);
  report_percentiles(state, one_way);
}
BENCHMARK(BM_Channel_MqueuePingPong)->Arg(kSmall)->Arg(kLarge)->UseManualTime()->Iterations(2000);

// ---- throughput ------------------------------------------------------------------

// Subscribes, receives until the stop sample, touching the first word of
// each (a consumer that reads its data in place), and exits with 0 if no
// sample was missed.
[[noreturn]] void counting_subscriber(const std::string& name, int ready_fd, bool spin) {
  auto sub = shmkit::Channel::open(name).subscriber({.start = shmkit::SubscriberStart::now});
  const char byte = 1;
  (void)!::write(ready_fd, &byte, 1);
  std::uint64_t expected = 1;
  for (;;) {
    std::optional<shmkit::Sample> sample = spin ? spin_receive(sub, 0) : sub.receive(std::chrono::seconds(10));
    if (!sample) {
      ::_exit(2);
    }
    const std::uint64_t value = first_word(sample->bytes());
    if (value == kStop) {
      ::_exit(sub.missed() == 0 ? 0 : 3);
    }
    if (value != expected++) {
      ::_exit(4);
    }
  }
}

double cpu_ns(const rusage& usage) {
  return (static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e9 +
          static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e3);
}

// Publishes samples of `bytes` as fast as `subscribers` processes take them
// (the blocking policy: no subscriber misses one), one per iteration. With
// `spin`, the subscribers and the publisher busy-wait (for empty and full
// rings); without it every process sleeps on the channel's futexes, as a
// rig's would.
// Counters per sample and subscriber, from the subscribers' rusage (their
// whole life: connecting adds a few page faults): sub_cpu_ns (CPU time),
// sub_faults (page faults), sub_switches (context switches); and the
// publisher's context switches per sample, pub_switches. Rates that differ
// while these do not are the scheduler's doing, not the channel's.
void run_throughput(benchmark::State& state, std::size_t bytes, int subscribers, bool spin) {
  rusage children_before{};
  ::getrusage(RUSAGE_CHILDREN, &children_before);
  const ChannelName name("rate");
  shmkit::ChannelOptions options{.sample = spec_of(bytes),
                                 .slots = 64,
                                 .history = 1,
                                 .max_subscribers = static_cast<std::uint32_t>(subscribers),
                                 .overflow = shmkit::ChannelOverflow::block};
  auto channel = shmkit::Channel::create(name.name, options);
  auto pub = channel.publisher();
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    state.SkipWithError("pipe failed");
    return;
  }
  std::vector<pid_t> children;
  for (int i = 0; i < subscribers; ++i) {
    const pid_t child = fork_child();
    if (child == 0) {
      counting_subscriber(name.name, ready[1], spin);
    }
    children.push_back(child);
  }
  for (int i = 0; i < subscribers; ++i) {
    char byte = 0;
    (void)!::read(ready[0], &byte, 1);
  }
  ::close(ready[0]);
  ::close(ready[1]);
  std::uint64_t sequence = 0;
  rusage self_before{};
  ::getrusage(RUSAGE_SELF, &self_before);
  for (auto _ : state) {
    auto loan = spin ? spin_loan(pub) : pub.loan(std::chrono::seconds(5));
    if (!loan) {
      state.SkipWithError("no slot for 5 s: a subscriber died");
      break;
    }
    set_first_word(loan->bytes(), ++sequence);
    pub.publish(std::move(*loan));
  }
  if (auto loan = spin_loan(pub)) {
    set_first_word(loan->bytes(), kStop);
    pub.publish(std::move(*loan));
  }
  bool all_received = true;
  for (const pid_t child : children) {
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    all_received = all_received && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  if (!all_received) {
    state.SkipWithError("a subscriber missed a sample or saw one out of order");
  }
  rusage self_after{};
  ::getrusage(RUSAGE_SELF, &self_after);
  rusage children_after{};
  ::getrusage(RUSAGE_CHILDREN, &children_after);
  const double per = static_cast<double>(std::max<std::int64_t>(state.iterations(), 1)) * subscribers;
  state.counters["sub_cpu_ns"] = (cpu_ns(children_after) - cpu_ns(children_before)) / per;
  state.counters["sub_faults"] = static_cast<double>((children_after.ru_minflt + children_after.ru_majflt) -
                                                     (children_before.ru_minflt + children_before.ru_majflt)) /
                                 per;
  state.counters["sub_switches"] = static_cast<double>((children_after.ru_nvcsw + children_after.ru_nivcsw) -
                                                       (children_before.ru_nvcsw + children_before.ru_nivcsw)) /
                                   per;
  state.counters["pub_switches"] = static_cast<double>((self_after.ru_nvcsw + self_after.ru_nivcsw) -
                                                       (self_before.ru_nvcsw + self_before.ru_nivcsw)) /
                                   static_cast<double>(std::max<std::int64_t>(state.iterations(), 1));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * bytes * static_cast<std::uint64_t>(subscribers)));
}

// 64 B samples to one busy-waiting subscriber: the rate every one arrives.
void BM_Channel_Throughput64B(benchmark::State& state) {
  run_throughput(state, kSmall, 1, true);
}
BENCHMARK(BM_Channel_Throughput64B)->UseRealTime();

// One publisher, 4 subscribers, frames of 64 KiB and 4 MiB: the rate does
// not depend on the frame size, because no byte of a frame is copied. Every
// process sleeps when it cannot go on (5 spinning processes on 2 cores
// would measure the scheduler): the subscribers in wait(), the publisher in
// loan(timeout) while the ring is full. A publisher that spun there took a
// core the subscribers needed: the runs fell into a slow regime (a futex
// wake-up per frame, 50-70 k frames/s) half the time, for either size;
// sleeping, they run at 200-500 k frames/s.
void BM_Channel_FanOut4(benchmark::State& state) {
  run_throughput(state, static_cast<std::size_t>(state.range(0)), 4, false);
}
BENCHMARK(BM_Channel_FanOut4)->Arg(64 << 10)->Arg(kLarge)->UseRealTime();

}  // namespace
BENCHMARK_MAIN();
