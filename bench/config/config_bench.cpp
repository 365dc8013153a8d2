// Load and save of a 200-field configuration (five nested blocks of 40
// fields: integers, floats, text, bools and short lists), in memory and
// through a file with its atomic save. Informative: no target.
//
//   build/bench/config_config_bench

#include <shmkit/config/yaml_config.hpp>

#include <benchmark/benchmark.h>
#include <unistd.h>
#include <boost/describe.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace {

// One BOOST_DESCRIBE_STRUCT takes at most about 50 members, hence the blocks.
struct Block {
  std::int32_t field_00 = 0;
  double field_01 = 1.5;
  std::string field_02 = "value-2";
  bool field_03 = true;
  std::vector<std::int32_t> field_04{4, 5, 6};
  std::int32_t field_05 = 185;
  double field_06 = 6.5;
  std::string field_07 = "value-7";
  bool field_08 = true;
  std::vector<std::int32_t> field_09{9, 10, 11};
  std::int32_t field_10 = 370;
  double field_11 = 11.5;
  std::string field_12 = "value-12";
  bool field_13 = true;
  std::vector<std::int32_t> field_14{14, 15, 16};
  std::int32_t field_15 = 555;
  double field_16 = 16.5;
  std::string field_17 = "value-17";
  bool field_18 = true;
  std::vector<std::int32_t> field_19{19, 20, 21};
  std::int32_t field_20 = 740;
  double field_21 = 21.5;
  std::string field_22 = "value-22";
  bool field_23 = true;
  std::vector<std::int32_t> field_24{24, 25, 26};
  std::int32_t field_25 = 925;
  double field_26 = 26.5;
  std::string field_27 = "value-27";
  bool field_28 = true;
  std::vector<std::int32_t> field_29{29, 30, 31};
  std::int32_t field_30 = 1110;
  double field_31 = 31.5;
  std::string field_32 = "value-32";
  bool field_33 = true;
  std::vector<std::int32_t> field_34{34, 35, 36};
  std::int32_t field_35 = 1295;
  double field_36 = 36.5;
  std::string field_37 = "value-37";
  bool field_38 = true;
  std::vector<std::int32_t> field_39{39, 40, 41};
};
BOOST_DESCRIBE_STRUCT(Block, (),
                      (field_00, field_01, field_02, field_03, field_04, field_05, field_06, field_07, field_08,
                       field_09, field_10, field_11, field_12, field_13, field_14, field_15, field_16, field_17,
                       field_18, field_19, field_20, field_21, field_22, field_23, field_24, field_25, field_26,
                       field_27, field_28, field_29, field_30, field_31, field_32, field_33, field_34, field_35,
                       field_36, field_37, field_38, field_39))

struct Config200 {
  Block camera;
  Block task;
  Block analysis;
  Block logger;
  Block store;
};
BOOST_DESCRIBE_STRUCT(Config200, (), (camera, task, analysis, logger, store))

void BM_Config_ToYamlString(benchmark::State& state) {
  const Config200 config;
  for (auto _ : state) {
    std::string text = shmkit::to_yaml_string(config);
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_Config_ToYamlString);

void BM_Config_FromYamlString(benchmark::State& state) {
  const std::string text = shmkit::to_yaml_string(Config200{});
  for (auto _ : state) {
    Config200 config = shmkit::from_yaml_string<Config200>(text);
    benchmark::DoNotOptimize(config);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Config_FromYamlString);

std::filesystem::path bench_file() {
  return std::filesystem::temp_directory_path() / ("shmkit-config-bench-" + std::to_string(::getpid()) + ".yaml");
}

// Includes the temp file, fsync and rename of the atomic save.
void BM_Config_SaveFile(benchmark::State& state) {
  const Config200 config;
  const auto path = bench_file();
  for (auto _ : state) {
    shmkit::to_yaml(config, path);
  }
  std::filesystem::remove(path);
}
BENCHMARK(BM_Config_SaveFile)->Unit(benchmark::kMicrosecond);

void BM_Config_LoadFile(benchmark::State& state) {
  const auto path = bench_file();
  shmkit::to_yaml(Config200{}, path);
  for (auto _ : state) {
    Config200 config = shmkit::from_yaml<Config200>(path);
    benchmark::DoNotOptimize(config);
  }
  std::filesystem::remove(path);
}
BENCHMARK(BM_Config_LoadFile)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
