// LMDB doing the store's small-object work, for bench/compare/store_compare.py:
// put of a 100-byte value in its own write transaction (as create_and_seal
// is one complete store operation) and get in a read transaction. The
// environment lives on /dev/shm with MDB_NOSYNC, so no disk is involved.

#include <lmdb.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

void check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) {
    throw std::runtime_error(std::string(what) + ": " + mdb_strerror(rc));
  }
}

struct Env {
  std::filesystem::path dir;
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;

  Env() : dir("/dev/shm/shmkit-lmdb-bench-" + std::to_string(::getpid())) {
    std::filesystem::create_directories(dir);
    check(mdb_env_create(&env), "mdb_env_create");
    check(mdb_env_set_mapsize(env, std::size_t{1} << 30), "mdb_env_set_mapsize");
    check(mdb_env_open(env, dir.c_str(), MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP, 0600), "mdb_env_open");
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
    check(mdb_dbi_open(txn, nullptr, 0, &dbi), "mdb_dbi_open");
    check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  ~Env() {
    mdb_env_close(env);
    std::filesystem::remove_all(dir);
  }

  void put(std::uint64_t key, const std::vector<std::byte>& value) const {
    std::uint8_t id[20] = {};
    std::memcpy(id, &key, sizeof(key));
    MDB_val k{sizeof(id), id};
    MDB_val v{value.size(), const_cast<std::byte*>(value.data())};
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
    check(mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE), "mdb_put");
    check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
};

class Latencies {
 public:
  explicit Latencies(benchmark::State& state) : state_(state) { samples_.reserve(1 << 20); }
  template <class F>
  void time(F&& op) {
    const auto start = Clock::now();
    op();
    if (samples_.size() < samples_.capacity()) {
      samples_.push_back(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count()));
    }
  }
  ~Latencies() {
    if (!samples_.empty()) {
      std::sort(samples_.begin(), samples_.end());
      state_.counters["p50_ns"] = static_cast<double>(samples_[samples_.size() / 2]);
      state_.counters["p99_ns"] = static_cast<double>(samples_[samples_.size() * 99 / 100]);
    }
  }

 private:
  benchmark::State& state_;
  std::vector<std::uint64_t> samples_;
};

void BM_Store_LmdbPut100B(benchmark::State& state) {
  const Env env;
  const std::vector<std::byte> value(100, std::byte{2});
  std::uint64_t n = 0;
  Latencies latencies(state);
  for (auto _ : state) {
    ++n;
    latencies.time([&] { env.put(n, value); });
  }
}
BENCHMARK(BM_Store_LmdbPut100B);

void BM_Store_LmdbGet100B(benchmark::State& state) {
  const Env env;
  env.put(1, std::vector<std::byte>(100, std::byte{1}));
  std::uint8_t id[20] = {1};
  MDB_val k{sizeof(id), id};
  MDB_txn* txn = nullptr;
  check(mdb_txn_begin(env.env, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
  mdb_txn_reset(txn);
  {
    Latencies latencies(state);
    for (auto _ : state) {
      latencies.time([&] {
        // renew/reset is LMDB's cheapest way to read a current snapshot.
        check(mdb_txn_renew(txn), "mdb_txn_renew");
        MDB_val v{};
        check(mdb_get(txn, env.dbi, &k, &v), "mdb_get");
        benchmark::DoNotOptimize(v.mv_data);
        mdb_txn_reset(txn);
      });
    }
  }
  mdb_txn_abort(txn);
}
BENCHMARK(BM_Store_LmdbGet100B);

}  // namespace

BENCHMARK_MAIN();
