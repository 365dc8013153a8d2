// Several writer processes and one reader on one store, next to Redis in
// the same shape (issue #17: "4 writer processes x 1 reader on 2 cores").
//
//   store_writers_bench [--writers 4] [--sets 10000] [--spin-us 100]   the store
//   store_writers_bench --redis /path/redis.sock [...]                  Redis
//
// The parent starts a store server on a thread of its own (the embedded
// StoreServer, on a unique socket), then execs itself once per child: W
// writers and one reader, each a separate process with its own connection.
// Writer i owns the name "w<i>" (as a rig's processes each publish their
// own values) and sets it N times to a 100-byte value through the public
// API only (Brain::set_bytes), so it measures whatever the write path is;
// the reader gets "w0", "w1", ... by name (Brain::get_buffer, zero-copy)
// in a loop until the last writer is done. Every child connects and warms
// up first, then all start together at a barrier of pipes (each child
// writes one byte to a `ready` pipe of its own; the parent closes `go`,
// which every child is blocked reading). Latencies are taken around each call and written into a
// shared memory block (a memfd the children inherit), which the parent
// merges: p50/p99 over all writers' sets, each writer's own, total sets/s
// (all sets over the span from the first writer's start to the last one's
// end), the reader's gets/s and get p50/p99.
//
// With --redis the children use hiredis (SET/GET of the same keys, one
// blocking connection each) against a redis-server the caller started
// (bench/compare/store_compare.py starts one on a Unix socket): the same
// processes, barrier and timing, so only the store calls differ.
//
// Correctness, checked on every run (exit status 1 and "ok": false when it
// fails): each value names its writer and a sequence number; the reader
// never sees a name missing, a value of another writer or a sequence number
// go backwards, and after the run the parent reads back every writer's last
// value. Output: one JSON object on stdout.

#include <shmkit/core/error.hpp>
#include <shmkit/store/brain.hpp>
#include <shmkit/store/store_client.hpp>
#include <shmkit/store/store_options.hpp>
#include <shmkit/store/store_server.hpp>

#include <hiredis/hiredis.h>
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

constexpr std::size_t kValueBytes = 100;
constexpr std::size_t kMaxWriters = 16;
// Sets (writers) and gets (reader) before the barrier: connections, the
// name index and the pages of the value are touched before timing starts.
constexpr std::uint64_t kWarmup = 200;
// Reader latencies kept: when full, every other one is dropped and from
// then on only every 2nd (4th, ...) get's is kept, so the samples stay
// spread over the whole run.
constexpr std::size_t kReaderSamples = std::size_t{1} << 20;
const std::string kNamespace = "writers";

using Clock = std::chrono::steady_clock;

std::int64_t now_ns() noexcept {
  // steady_clock is CLOCK_MONOTONIC: one time line for every process.
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// The shared block: this header, then writers x sets samples (ns), then the
// reader's kReaderSamples. Each process writes only its own slot.
struct alignas(64) WriterSlot {
  std::int64_t start_ns;
  std::int64_t end_ns;
  std::uint64_t sets;
};

struct alignas(64) ReaderSlot {
  std::int64_t start_ns;
  std::int64_t end_ns;
  std::uint64_t gets;
  std::uint64_t missing;  // a name not found (a gap in a rebind)
  std::uint64_t foreign;  // a value of the wrong size or writer
  std::uint64_t stale;    // a sequence number older than one seen before
  std::uint64_t samples;  // latencies kept
  std::uint64_t stride;   // one get's latency in `stride` kept
};

struct Control {
  alignas(64) std::atomic<std::uint32_t> writers_left;
  WriterSlot writers[kMaxWriters];
  ReaderSlot reader;
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(Control) % alignof(std::uint64_t) == 0);

struct Shared {
  Control* control = nullptr;
  std::uint64_t* writer_samples = nullptr;  // writer i: [i * sets, (i + 1) * sets)
  std::uint64_t* reader_samples = nullptr;
  std::size_t bytes = 0;

  static std::size_t size_for(std::size_t writers, std::uint64_t sets) {
    return sizeof(Control) + (writers * sets + kReaderSamples) * sizeof(std::uint64_t);
  }
  static Shared map(int fd, std::size_t writers, std::uint64_t sets) {
    Shared s;
    s.bytes = size_for(writers, sets);
    void* p = ::mmap(nullptr, s.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      throw std::system_error(errno, std::generic_category(), "cannot map the benchmark's control block");
    }
    s.control = static_cast<Control*>(p);
    s.writer_samples = reinterpret_cast<std::uint64_t*>(static_cast<std::byte*>(p) + sizeof(Control));
    s.reader_samples = s.writer_samples + writers * sets;
    return s;
  }
};

// A value: its writer and sequence number up front, filler after.
struct ValueHead {
  std::uint64_t seq;
  std::uint32_t writer;
  std::uint32_t magic;
};
constexpr std::uint32_t kMagic = 0x5eb0c4a1;

void stamp(std::array<std::byte, kValueBytes>& value, std::uint32_t writer, std::uint64_t seq) noexcept {
  const ValueHead head{seq, writer, kMagic};
  std::memcpy(value.data(), &head, sizeof(head));
}

std::string name_of(std::size_t writer) {
  return "w" + std::to_string(writer);
}

struct Options {
  std::size_t writers = 4;
  std::uint64_t sets = 10000;
  std::uint32_t spin_us = shmkit::StoreOptions{}.spin_us;
  std::size_t capacity = std::size_t{64} << 20;
  std::string redis;  // Redis's Unix socket: measure Redis instead of the store
  // Set by the parent for its children.
  std::string role;
  std::size_t index = 0;
  std::string socket;
  int control_fd = -1;
  int ready_fd = -1;
  int go_fd = -1;
  pid_t parent = 0;
};

// The two peers behind one interface: set and get of a name's value.
class StorePeer {
 public:
  explicit StorePeer(const std::string& socket) : brain_(shmkit::Brain::connect(socket, kNamespace)) {}
  void set(const std::string& name, std::span<const std::byte> value) { brain_.set_bytes(name, value); }
  // The value's head and size, or nullopt when the name is not set.
  std::optional<std::pair<ValueHead, std::size_t>> get(const std::string& name) {
    try {
      const shmkit::ObjectBuffer buffer = brain_.get_buffer(name);
      ValueHead head{};
      const std::span<const std::byte> data = buffer.data();
      std::memcpy(&head, data.data(), std::min(sizeof(head), data.size()));
      return std::pair{head, data.size()};  // the reference is dropped here, inside the timed call
    } catch (const shmkit::NotFoundError&) {
      return std::nullopt;
    }
  }

 private:
  shmkit::Brain brain_;
};

class RedisPeer {
 public:
  explicit RedisPeer(const std::string& socket) : context_(redisConnectUnix(socket.c_str())) {
    if (context_ == nullptr || context_->err != 0) {
      throw std::runtime_error("cannot connect to Redis at '" + socket +
                               "': " + (context_ != nullptr ? context_->errstr : "out of memory"));
    }
  }
  void set(const std::string& name, std::span<const std::byte> value) {
    const Reply reply = command("SET %s %b", name.c_str(), value.data(), value.size());
    if (reply->type != REDIS_REPLY_STATUS) {
      throw std::runtime_error("Redis SET " + name + " failed");
    }
  }
  std::optional<std::pair<ValueHead, std::size_t>> get(const std::string& name) {
    const Reply reply = command("GET %s", name.c_str());
    if (reply->type != REDIS_REPLY_STRING) {
      return std::nullopt;
    }
    ValueHead head{};
    std::memcpy(&head, reply->str, std::min(sizeof(head), static_cast<std::size_t>(reply->len)));
    return std::pair{head, static_cast<std::size_t>(reply->len)};
  }

 private:
  struct FreeReply {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
  };
  using Reply = std::unique_ptr<redisReply, FreeReply>;
  struct FreeContext {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
  };
  template <class... Args>
  Reply command(const char* format, Args... args) {
    Reply reply(static_cast<redisReply*>(redisCommand(context_.get(), format, args...)));
    if (reply == nullptr) {
      throw std::runtime_error(std::string("Redis connection failed: ") + context_->errstr);
    }
    return reply;
  }
  std::unique_ptr<redisContext, FreeContext> context_;
};

void write_byte(int fd) {
  const char byte = 1;
  while (::write(fd, &byte, 1) != 1) {
    if (errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "cannot signal the parent");
    }
  }
}

// Blocks until the parent closes its end of `go` (read returns 0).
void wait_for_go(int fd) {
  char byte = 0;
  ssize_t n = 0;
  while ((n = ::read(fd, &byte, 1)) != 0) {
    if (n < 0 && errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "cannot wait for the start");
    }
  }
}

template <class Peer>
void run_writer(const Options& o, const Shared& shared) {
  Peer peer(o.redis.empty() ? o.socket : o.redis);
  const std::string name = name_of(o.index);
  std::array<std::byte, kValueBytes> value{};
  std::fill(value.begin(), value.end(), std::byte{0x5a});
  stamp(value, static_cast<std::uint32_t>(o.index), 0);
  for (std::uint64_t i = 0; i < kWarmup; ++i) {
    peer.set(name, value);
  }
  std::uint64_t* samples = shared.writer_samples + o.index * o.sets;
  std::fill(samples, samples + o.sets, 0);  // touched now, not while timing
  WriterSlot& slot = shared.control->writers[o.index];
  write_byte(o.ready_fd);
  wait_for_go(o.go_fd);

  slot.start_ns = now_ns();
  for (std::uint64_t seq = 1; seq <= o.sets; ++seq) {
    stamp(value, static_cast<std::uint32_t>(o.index), seq);
    const std::int64_t start = now_ns();
    peer.set(name, value);
    samples[seq - 1] = static_cast<std::uint64_t>(now_ns() - start);
  }
  slot.end_ns = now_ns();
  slot.sets = o.sets;
  shared.control->writers_left.fetch_sub(1, std::memory_order_release);
}

template <class Peer>
void run_reader(const Options& o, const Shared& shared) {
  Peer peer(o.redis.empty() ? o.socket : o.redis);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < o.writers; ++i) {
    names.push_back(name_of(i));
  }
  ReaderSlot& r = shared.control->reader;
  std::vector<std::uint64_t> last_seq(o.writers, 0);
  // Warm-up gets may miss (a writer may not have set its name yet); after
  // the barrier none may, as every writer sets its name before it is ready.
  for (std::uint64_t i = 0; i < kWarmup; ++i) {
    (void)peer.get(names[i % o.writers]);
  }
  std::uint64_t* samples = shared.reader_samples;
  std::fill(samples, samples + kReaderSamples, 0);
  write_byte(o.ready_fd);
  wait_for_go(o.go_fd);

  std::uint64_t gets = 0;
  std::uint64_t kept = 0;
  std::uint64_t stride = 1;
  r.start_ns = now_ns();
  while (shared.control->writers_left.load(std::memory_order_acquire) != 0) {
    const std::size_t w = gets % o.writers;
    const std::int64_t start = now_ns();
    const auto got = peer.get(names[w]);
    const std::int64_t ns = now_ns() - start;
    if (!got) {
      ++r.missing;
    } else if (got->second != kValueBytes || got->first.magic != kMagic || got->first.writer != w) {
      ++r.foreign;
    } else if (got->first.seq < last_seq[w]) {
      ++r.stale;
    } else {
      last_seq[w] = got->first.seq;
    }
    if (gets % stride == 0) {
      if (kept == kReaderSamples) {
        for (std::size_t i = 0; i < kReaderSamples / 2; ++i) {
          samples[i] = samples[2 * i];
        }
        kept = kReaderSamples / 2;
        stride *= 2;
      }
      if (gets % stride == 0) {
        samples[kept++] = static_cast<std::uint64_t>(ns);
      }
    }
    ++gets;
  }
  r.end_ns = now_ns();
  r.gets = gets;
  r.samples = kept;
  r.stride = stride;
}

// A child: `role` is "writer" or "reader".
int run_child(const Options& o) {
  // A child outlives a killed parent only to spin: the reader waits for
  // writers that may be gone, and nobody reads the figures.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != o.parent) {
    return 1;
  }
  const Shared shared = Shared::map(o.control_fd, o.writers, o.sets);
  try {
    if (o.role == "writer") {
      o.redis.empty() ? run_writer<StorePeer>(o, shared) : run_writer<RedisPeer>(o, shared);
    } else {
      o.redis.empty() ? run_reader<StorePeer>(o, shared) : run_reader<RedisPeer>(o, shared);
    }
  } catch (const std::exception& e) {
    const std::string who = o.role == "writer" ? "writer " + std::to_string(o.index) : o.role;
    std::fprintf(stderr, "store_writers_bench: %s: %s\n", who.c_str(), e.what());
    return 1;
  }
  return 0;
}

struct Percentiles {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};

Percentiles percentiles(std::vector<std::uint64_t> samples) {
  if (samples.empty()) {
    return {};
  }
  std::sort(samples.begin(), samples.end());
  return {static_cast<double>(samples[samples.size() / 2]), static_cast<double>(samples[samples.size() * 99 / 100]),
          static_cast<double>(samples.back())};
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return out + "\"";
}

int fail(const std::string& message) {
  std::fprintf(stderr, "store_writers_bench: %s\n", message.c_str());
  return 1;
}

void keep_on_exec(int fd) noexcept {
  ::fcntl(fd, F_SETFD, 0);  // async-signal-safe: called between fork and exec
}

// The parent: a server (unless Redis), the children, the barrier, the figures.
int run_parent(const Options& o) {
  if (o.writers == 0 || o.writers > kMaxWriters || o.sets == 0) {
    return fail("--writers must be 1.." + std::to_string(kMaxWriters) + " and --sets at least 1");
  }
  std::optional<shmkit::StoreServer> server;
  std::string socket;
  if (o.redis.empty()) {
    shmkit::StoreOptions options;
    options.capacity = o.capacity;
    options.socket_path = "/tmp/shmkit-store-writers-bench-" + std::to_string(::getpid()) + ".sock";
    options.spin_us = o.spin_us;
    server.emplace(shmkit::StoreServer::start(options));
    socket = options.socket_path;
  }

  const int control_fd = ::memfd_create("shmkit-store-writers-bench", MFD_CLOEXEC);
  if (control_fd < 0 || ::ftruncate(control_fd, static_cast<off_t>(Shared::size_for(o.writers, o.sets))) != 0) {
    return fail(std::string("cannot create the control block: ") + std::strerror(errno));
  }
  const Shared shared = Shared::map(control_fd, o.writers, o.sets);
  shared.control->writers_left.store(static_cast<std::uint32_t>(o.writers));
  // The barrier: each child has a `ready` pipe of its own (so the parent
  // sees EOF when one dies before it is ready) and all share `go`.
  std::vector<std::array<int, 2>> ready(o.writers + 1);
  int go[2];
  for (std::array<int, 2>& pipe : ready) {
    if (::pipe2(pipe.data(), O_CLOEXEC) != 0) {
      return fail(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
  }
  if (::pipe2(go, O_CLOEXEC) != 0) {
    return fail(std::string("cannot create a pipe: ") + std::strerror(errno));
  }

  // Every argv is built before fork: the server thread runs in this
  // process, so a child may only call async-signal-safe functions until exec.
  const std::string self = "/proc/self/exe";
  std::vector<std::vector<std::string>> argvs;
  for (std::size_t i = 0; i <= o.writers; ++i) {
    const bool reader = i == o.writers;
    std::vector<std::string> a = {self,
                                  "--role",
                                  reader ? "reader" : "writer",
                                  "--index",
                                  std::to_string(reader ? 0 : i),
                                  "--writers",
                                  std::to_string(o.writers),
                                  "--sets",
                                  std::to_string(o.sets),
                                  "--control-fd",
                                  std::to_string(control_fd),
                                  "--ready-fd",
                                  std::to_string(ready[i][1]),
                                  "--go-fd",
                                  std::to_string(go[0]),
                                  "--parent",
                                  std::to_string(::getpid())};
    if (o.redis.empty()) {
      a.insert(a.end(), {"--socket", socket});
    } else {
      a.insert(a.end(), {"--redis", o.redis});
    }
    argvs.push_back(std::move(a));
  }
  std::vector<pid_t> pids;
  for (std::size_t i = 0; i < argvs.size(); ++i) {
    std::vector<char*> argv;
    for (std::string& s : argvs[i]) {
      argv.push_back(s.data());
    }
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      return fail(std::string("cannot fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
      keep_on_exec(control_fd);
      keep_on_exec(ready[i][1]);
      keep_on_exec(go[0]);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(ready[i][1]);
    pids.push_back(pid);
  }
  ::close(go[0]);

  // One byte from each child, then go; EOF instead means that child died
  // before it was ready, and closing `go` still lets the others finish.
  std::size_t ready_count = 0;
  for (const std::array<int, 2>& pipe : ready) {
    char byte = 0;
    ssize_t n = 0;
    while ((n = ::read(pipe[0], &byte, 1)) < 0 && errno == EINTR) {
    }
    ready_count += n == 1 ? 1 : 0;
    ::close(pipe[0]);
  }
  ::close(go[1]);

  std::string errors;
  const auto reap = [&errors](pid_t pid, const std::string& who) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      errors += (errors.empty() ? "" : "; ") + who + " failed (" +
                (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                     : "exit status " + std::to_string(WEXITSTATUS(status))) +
                ")";
    }
  };
  for (std::size_t i = 0; i < o.writers; ++i) {
    reap(pids[i], "writer " + std::to_string(i));
  }
  shared.control->writers_left.store(0);  // a writer that died must not keep the reader looping
  reap(pids.back(), "reader");
  if (ready_count < pids.size() && errors.empty()) {
    errors = "a child was not ready";
  }

  // Every writer's last value, read back after the run.
  std::vector<std::uint64_t> last(o.writers, 0);
  std::string check;
  try {
    const auto read_back = [&](auto& peer) {
      for (std::size_t i = 0; i < o.writers; ++i) {
        const auto got = peer.get(name_of(i));
        if (!got || got->second != kValueBytes || got->first.magic != kMagic || got->first.writer != i) {
          check += " " + name_of(i) + " does not hold a value of writer " + std::to_string(i) + ";";
          continue;
        }
        last[i] = got->first.seq;
        if (last[i] != o.sets) {
          check += " " + name_of(i) + " holds set " + std::to_string(last[i]) + ", not the last (" +
                   std::to_string(o.sets) + ");";
        }
      }
    };
    if (o.redis.empty()) {
      StorePeer peer(socket);
      read_back(peer);
    } else {
      RedisPeer peer(o.redis);
      read_back(peer);
    }
  } catch (const std::exception& e) {
    check += std::string(" reading back failed: ") + e.what() + ";";
  }
  const ReaderSlot& r = shared.control->reader;
  if (r.missing + r.foreign + r.stale != 0) {
    check += " the reader saw " + std::to_string(r.missing) + " missing, " + std::to_string(r.foreign) +
             " foreign and " + std::to_string(r.stale) + " stale values;";
  }
  const std::string problems = errors + (errors.empty() || check.empty() ? "" : ";") + check;
  const bool ok = problems.empty();

  std::vector<std::uint64_t> all;
  std::string per_writer;
  std::int64_t first_start = 0;
  std::int64_t last_end = 0;
  for (std::size_t i = 0; i < o.writers; ++i) {
    const WriterSlot& w = shared.control->writers[i];
    const std::vector<std::uint64_t> mine(shared.writer_samples + i * o.sets,
                                          shared.writer_samples + i * o.sets + w.sets);
    all.insert(all.end(), mine.begin(), mine.end());
    const Percentiles p = percentiles(mine);
    const double seconds = static_cast<double>(w.end_ns - w.start_ns) / 1e9;
    char line[256];
    std::snprintf(line, sizeof(line), "%s{\"sets\": %llu, \"seconds\": %.4f, \"p50_ns\": %.0f, \"p99_ns\": %.0f}",
                  i == 0 ? "" : ", ", static_cast<unsigned long long>(w.sets), seconds, p.p50, p.p99);
    per_writer += line;
    if (w.sets != 0) {
      first_start = first_start == 0 ? w.start_ns : std::min(first_start, w.start_ns);
      last_end = std::max(last_end, w.end_ns);
    }
  }
  const Percentiles sets = percentiles(all);
  const double seconds = static_cast<double>(last_end - first_start) / 1e9;
  const double sets_per_second = seconds > 0 ? static_cast<double>(all.size()) / seconds : 0;
  const Percentiles gets =
      percentiles(std::vector<std::uint64_t>(shared.reader_samples, shared.reader_samples + r.samples));
  const double reader_seconds = static_cast<double>(r.end_ns - r.start_ns) / 1e9;
  const double gets_per_second = reader_seconds > 0 ? static_cast<double>(r.gets) / reader_seconds : 0;

  std::printf(
      "{\"peer\": %s, \"spin_us\": %s, \"writers\": %zu, \"sets_per_writer\": %llu, \"value_bytes\": %zu,\n"
      " \"seconds\": %.4f, \"sets\": %zu, \"sets_per_second\": %.0f,\n"
      " \"set_p50_ns\": %.0f, \"set_p99_ns\": %.0f, \"set_max_ns\": %.0f,\n"
      " \"per_writer\": [%s],\n"
      " \"reader\": {\"gets\": %llu, \"seconds\": %.4f, \"gets_per_second\": %.0f, \"get_p50_ns\": %.0f, "
      "\"get_p99_ns\": %.0f, \"get_max_ns\": %.0f, \"kept_one_in\": %llu},\n"
      " \"ok\": %s, \"errors\": %s}\n",
      o.redis.empty() ? "\"shmkit\"" : "\"redis\"", o.redis.empty() ? std::to_string(o.spin_us).c_str() : "null",
      o.writers, static_cast<unsigned long long>(o.sets), kValueBytes, seconds, all.size(), sets_per_second, sets.p50,
      sets.p99, sets.max, per_writer.c_str(), static_cast<unsigned long long>(r.gets), reader_seconds, gets_per_second,
      gets.p50, gets.p99, gets.max, static_cast<unsigned long long>(r.stride), ok ? "true" : "false",
      json_string(problems).c_str());
  if (!ok) {
    return fail(problems);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Writer processes setting names and one reader getting them, on the store or on Redis; JSON on stdout"};
  app.add_option("--writers", o.writers, "writer processes")->capture_default_str();
  app.add_option("--sets", o.sets, "sets of a 100-byte value per writer")->capture_default_str();
  app.add_option("--spin-us", o.spin_us, "the store server's spin_us (0: never poll)")->capture_default_str();
  app.add_option("--capacity", o.capacity, "store capacity in bytes")->capture_default_str();
  app.add_option("--redis", o.redis, "measure Redis at this Unix socket instead of the store");
  // Passed by the parent to its children.
  app.add_option("--role", o.role)->check(CLI::IsMember({"writer", "reader"}))->group("");
  app.add_option("--index", o.index)->group("");
  app.add_option("--socket", o.socket)->group("");
  app.add_option("--control-fd", o.control_fd)->group("");
  app.add_option("--ready-fd", o.ready_fd)->group("");
  app.add_option("--go-fd", o.go_fd)->group("");
  app.add_option("--parent", o.parent)->group("");
  CLI11_PARSE(app, argc, argv);
  try {
    return o.role.empty() ? run_parent(o) : run_child(o);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
