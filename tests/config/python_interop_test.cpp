// Config files cross the language boundary both ways: what C++ writes loads
// in Python (PyYAML into dataclasses, as ataraxis' YamlConfig does), and what
// Python writes with ataraxis' dump settings loads in C++. Runs the real
// interpreter the build was configured with; a missing interpreter or PyYAML
// fails the test.

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/logger/options.hpp>

#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config_test_types.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using shmkit::testing::Camera;
using shmkit::testing::Rig;
using shmkit::testing::Roi;
using shmkit::testing::Timing;
using shmkit::testing::Trigger;

// Words at the edges of the emitter's fast path for plain words (letters,
// digits, "_.+-"), as values, list items and keys, next to the texts that
// must take the full analysis (indicators, spaces, quotes, non-ASCII).
struct Words {
  std::vector<std::string> words;
  std::vector<double> numbers;
  std::map<std::string, std::string> keyed;
};
BOOST_DESCRIBE_STRUCT(Words, (), (words, numbers, keyed))

Words edge_words() {
  const std::vector<std::string> texts = {
      "c++",    "a_b",  "CamelCase", "x-y", "-x",   "-1",   "+5",   ".5",  ".x",  ".inf", "-.inf", ".nan",
      "1e+300", "0x1F", "1_000",     "1.0", "true", "null", "yes",  "-",   "--",  "---",  "---x",  "...",
      "...x",   "..",   "a b",       "a:b", "a: b", "#a",   "a #b", "[a]", "{a}", "a,b",  "'a'",   "\"a\"",
      "a\tb",   "é",    "",          " a",  "a ",   "?",    "?a",   ":a",  "~",   "@a"};
  Words w;
  w.words = texts;
  // PyYAML writes a key of 123 characters or more as a complex key ("? "),
  // whether it takes the fast path for words or not.
  for (const std::size_t length : {122, 123, 200}) {
    w.keyed[std::string(length, 'k')] = "long";
    w.keyed[std::string(length, 'k') + " k"] = "long, with a space";
  }
  w.numbers = {0.0, -1.5, 1e300, -2.5e-300, 1.0 / 3.0, 12345678901234567.0};
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (!texts[i].empty()) {
      w.keyed[texts[i]] = texts[(i + 7) % texts.size()];
    }
  }
  return w;
}

// The Python side of the contract: dataclasses that mirror Rig, Camera and
// Roi, built from a loaded mapping the way ataraxis builds them (every key
// must be a field), and dumped the way ataraxis dumps them.
constexpr const char* kPythonTypes = R"PY(
import dataclasses, enum, math, sys, yaml
from dataclasses import dataclass, field
from typing import Optional

class Trigger(enum.Enum):
    internal = 0
    external = 1
    software = 2

@dataclass
class Roi:
    box: list = field(default_factory=lambda: [0, 0, 640, 480])
    scale: Optional[float] = None

@dataclass
class Camera:
    exposure_us: int = 10000
    gain: float = 1.5
    trigger: Trigger = Trigger.internal
    roi: Roi = field(default_factory=Roi)
    extra_rois: list = field(default_factory=list)
    serial: str = "cam-0"

@dataclass
class Rig:
    enabled: bool = True
    i8: int = -8
    u8: int = 8
    i16: int = -16
    u16: int = 16
    i32: int = -32
    u32: int = 32
    i64: int = -64
    u64: int = 64
    f32: float = 0.25
    f64: float = 0.1
    animal: str = "mouse-1"
    output: str = "/data/rig"
    seed: Optional[int] = None
    channels: list = field(default_factory=lambda: [1, 2, 3])
    cameras: dict = field(default_factory=dict)
    main_camera: Camera = field(default_factory=Camera)
    notes: list = field(default_factory=list)

# Durations are ints (or a float) in the C++ field's unit; modes are ints.
@dataclass
class Timing:
    timeout: int = 30
    interval: int = 1500
    resolution: int = 250
    period: float = 0.5
    retention: int = 90
    deadline: Optional[int] = None
    backoff: list = field(default_factory=lambda: [10, 100])
    mode: int = 0o600

@dataclass
class DataLoggerOptions:
    max_writers: int = 16
    ring_bytes: int = 1 << 20
    mode: int = 0o600
    fsync: str = "interval"
    fsync_interval: int = 1000
    idle_sleep: int = 500
    reap_interval: int = 100
    file_buffer_bytes: int = 1 << 20
    remove_segment_on_destroy: bool = True

def build_exact(cls, d):
    assert set(d) == {f.name for f in dataclasses.fields(cls)}, d
    return cls(**d)

def build_roi(d):
    return Roi(**d)

def build_camera(d):
    d = dict(d)
    assert set(d) <= {f.name for f in dataclasses.fields(Camera)}, d
    d["trigger"] = Trigger[d["trigger"]]
    d["roi"] = build_roi(d["roi"])
    d["extra_rois"] = [build_roi(r) for r in d["extra_rois"]]
    return Camera(**d)

def build_rig(d):
    d = dict(d)
    assert set(d) <= {f.name for f in dataclasses.fields(Rig)}, d
    d["cameras"] = {k: build_camera(v) for k, v in d["cameras"].items()}
    d["main_camera"] = build_camera(d["main_camera"])
    return Rig(**d)

def plain(value):
    # asdict() keeps Enum members; ataraxis-style files hold their names.
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value

def dump(rig, path):
    with open(path, "w") as f:
        yaml.dump(plain(dataclasses.asdict(rig)), f, explicit_start=True, explicit_end=True,
                  sort_keys=False, default_flow_style=False)
)PY";

// Checks, in Python, the values of shmkit::testing::filled_rig().
constexpr const char* kPythonCheckFilledRig = R"PY(
with open(sys.argv[1]) as f:
    rig = build_rig(yaml.safe_load(f))
assert rig.enabled is False
assert (rig.i8, rig.u8, rig.i16, rig.u16) == (-128, 255, -32768, 65535)
assert (rig.i32, rig.u32) == (-2**31, 2**32 - 1)
assert (rig.i64, rig.u64) == (-2**63, 2**64 - 1)
assert abs(rig.f32 - -3.5e-7) < 1e-13, rig.f32
assert rig.f64 == 6.02214076e23
assert rig.animal == "yes" and isinstance(rig.animal, str)
assert rig.output == "/data/2026-11-22/session 1"
assert rig.seed == 42
assert rig.channels == []
side = rig.cameras["side"]
assert (side.exposure_us, side.gain, side.trigger) == (500, 0.125, Trigger.external)
assert side.roi == Roi([10, 20, 30, 40], 0.5)
assert side.extra_rois == [Roi([1, 2, 3, 4], None), Roi([5, 6, 7, 8], 2.0)]
assert side.serial == "123"
assert rig.cameras["top"] == Camera()
assert list(rig.cameras) == ["side", "top"]
assert rig.main_camera.trigger == Trigger.software
assert rig.main_camera.roi.scale == 1e-5
assert rig.main_camera.serial == ""
assert rig.notes == ["first line: with a colon", "# not a comment", "\u00fcn\u00efc\u00f6d\u00e9"]
print("python read every value")
)PY";

// Writes, in Python, a Rig that C++ checks in PythonFileLoadsInCpp.
constexpr const char* kPythonWriteRig = R"PY(
rig = Rig()
rig.enabled = False
rig.u8 = 200
rig.i64 = -2**63
rig.u64 = 2**64 - 1
rig.f64 = 1e-300
rig.animal = "on"
rig.output = "/mnt/data/run 2"
rig.seed = -5
rig.channels = [7, 8]
cam = Camera(exposure_us=123, gain=0.75, trigger=Trigger.software, roi=Roi([9, 8, 7, 6], 3.25),
             extra_rois=[Roi()], serial="0017")
rig.cameras = {"left": cam}
rig.main_camera.trigger = Trigger.external
rig.notes = ["colon: inside", "\u00e9t\u00e9", ""]
dump(rig, sys.argv[1])
print("python wrote the file")
)PY";

// Checks, in Python, the values of shmkit::testing::filled_timing().
constexpr const char* kPythonCheckFilledTiming = R"PY(
text = open(sys.argv[1]).read()
assert "\nmode: 02775\n" in text, text
t = build_exact(Timing, yaml.safe_load(text))
assert t.timeout == -5 and t.interval == 86400000 and t.resolution == 2**63 - 1, t
assert isinstance(t.period, float) and t.period == 2.5e-6, t
assert t.retention == 65535 and t.deadline == 1 and t.backoff == [], t
assert isinstance(t.mode, int) and t.mode == 0o2775, oct(t.mode)
print("python read the durations and the mode")
)PY";

class ConfigPythonTest : public ::testing::Test {
 protected:
  // Runs `body` (after the shared types) with `argument`; fails on a
  // non-zero exit, which includes a missing interpreter or PyYAML.
  void run_python(const std::string& body, const fs::path& argument) const {
    const fs::path script = dir_ / "script.py";
    std::ofstream(script) << kPythonTypes << body;
    const auto result =
        shmkit::testing::run_command(shmkit::testing::python() + " " + script.string() + " " + argument.string());
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }

  // Fails unless PyYAML, loading `file` and dumping it again with ataraxis'
  // dump settings plus allow_unicode (shmkit writes UTF-8 text as is;
  // without it PyYAML escapes non-ASCII, and both forms read alike), writes
  // the same bytes.
  void expect_pyyaml_writes_the_same(const fs::path& file) const {
    run_python(R"PY(
text = open(sys.argv[1], encoding="utf-8").read()
again = yaml.dump(yaml.safe_load(text), explicit_start=True, explicit_end=True, sort_keys=False,
                  default_flow_style=False, allow_unicode=True)
if again != text:
    import difflib
    sys.exit("".join(difflib.unified_diff(text.splitlines(True), again.splitlines(True), "shmkit", "PyYAML")))
print("identical")
)PY",
               file);
  }

  shmkit::testing::TempDir dir_;
};

TEST_F(ConfigPythonTest, CppFileLoadsInPythonDataclasses) {
  const fs::path file = dir_ / "rig.yaml";
  shmkit::to_yaml(shmkit::testing::filled_rig(), file);
  run_python(kPythonCheckFilledRig, file);
}

TEST_F(ConfigPythonTest, PythonFileLoadsInCpp) {
  const fs::path file = dir_ / "rig.yaml";
  run_python(kPythonWriteRig, file);
  const Rig rig = shmkit::from_yaml<Rig>(file);

  Rig expected;
  expected.enabled = false;
  expected.u8 = 200;
  expected.i64 = -9223372036854775807LL - 1;
  expected.u64 = 18446744073709551615ULL;
  expected.f64 = 1e-300;
  expected.animal = "on";
  expected.output = "/mnt/data/run 2";
  expected.seed = -5;
  expected.channels = {7, 8};
  Camera left;
  left.exposure_us = 123;
  left.gain = 0.75F;
  left.trigger = Trigger::software;
  left.roi = Roi{{9, 8, 7, 6}, 3.25};
  left.extra_rois = {Roi{}};
  left.serial = "0017";
  expected.cameras = {{"left", left}};
  expected.main_camera.trigger = Trigger::external;
  expected.notes = {"colon: inside", "\u00e9t\u00e9", ""};
  EXPECT_TRUE(rig == expected) << shmkit::to_yaml_string(rig);
}

TEST_F(ConfigPythonTest, CppRewritesAPythonFileWithTheSameValues) {
  // Python -> C++ -> file -> Python: the values survive both directions.
  const fs::path file = dir_ / "rig.yaml";
  shmkit::to_yaml(shmkit::testing::filled_rig(), file);
  run_python("rig = build_rig(yaml.safe_load(open(sys.argv[1])))\ndump(rig, sys.argv[1])\n", file);
  EXPECT_TRUE(shmkit::from_yaml<Rig>(file) == shmkit::testing::filled_rig());
}

TEST_F(ConfigPythonTest, CppTextIsWhatPyYamlWritesByteForByte) {
  const fs::path file = dir_ / "rig.yaml";
  shmkit::to_yaml(shmkit::testing::filled_rig(), file);
  expect_pyyaml_writes_the_same(file);
}

TEST_F(ConfigPythonTest, EdgeWordsAreWhatPyYamlWritesByteForByte) {
  const fs::path file = dir_ / "words.yaml";
  shmkit::to_yaml(edge_words(), file);
  expect_pyyaml_writes_the_same(file);
  EXPECT_EQ(shmkit::from_yaml<Words>(file).words, edge_words().words);
}

TEST_F(ConfigPythonTest, DurationsAndModesLoadInPython) {
  const fs::path file = dir_ / "timing.yaml";
  shmkit::to_yaml(shmkit::testing::filled_timing(), file);
  run_python(kPythonCheckFilledTiming, file);
}

TEST_F(ConfigPythonTest, PythonDurationsAndModesLoadInCpp) {
  // PyYAML writes the int 0o640 as 416; the octal field reads it as 0640.
  const fs::path file = dir_ / "timing.yaml";
  run_python(R"PY(
t = Timing(timeout=0, interval=250, resolution=1, period=1.0 / 3, retention=0, deadline=2000000, backoff=[1, 2, 3],
           mode=0o640)
with open(sys.argv[1], "w") as f:
    yaml.dump(dataclasses.asdict(t), f, explicit_start=True, explicit_end=True, sort_keys=False,
              default_flow_style=False)
assert "\nmode: 416\n" in open(sys.argv[1]).read()
)PY",
             file);
  const auto timing = shmkit::from_yaml<Timing>(file);
  using namespace std::chrono_literals;
  EXPECT_EQ(timing.timeout, 0s);
  EXPECT_EQ(timing.interval, 250ms);
  EXPECT_EQ(timing.resolution, 1ns);
  EXPECT_EQ(timing.period.count(), 1.0 / 3);
  EXPECT_EQ(timing.retention.count(), 0);
  EXPECT_EQ(timing.deadline, std::optional(2s));
  EXPECT_EQ(timing.backoff, (std::vector{1ms, 2ms, 3ms}));
  EXPECT_EQ(timing.mode, 0640U);
}

TEST_F(ConfigPythonTest, DurationsAndModesSurvivePythonAndBack) {
  // C++ (octal 02775) -> Python -> PyYAML (decimal 1533) -> C++.
  const fs::path file = dir_ / "timing.yaml";
  shmkit::to_yaml(shmkit::testing::filled_timing(), file);
  run_python(R"PY(
t = build_exact(Timing, yaml.safe_load(open(sys.argv[1])))
with open(sys.argv[1], "w") as f:
    yaml.dump(dataclasses.asdict(t), f, explicit_start=True, explicit_end=True, sort_keys=False,
              default_flow_style=False)
assert "\nmode: 1533\n" in open(sys.argv[1]).read()
)PY",
             file);
  EXPECT_TRUE(shmkit::from_yaml<Timing>(file) == shmkit::testing::filled_timing());
}

TEST_F(ConfigPythonTest, LoggerOptionsCrossBothWays) {
  const fs::path file = dir_ / "logger.yaml";
  shmkit::DataLoggerOptions options;
  options.mode = 0660;
  options.fsync = shmkit::FsyncPolicy::always;
  options.idle_sleep = std::chrono::microseconds{50};
  shmkit::to_yaml(options, file);
  run_python(R"PY(
o = build_exact(DataLoggerOptions, yaml.safe_load(open(sys.argv[1])))
assert (o.mode, o.fsync, o.idle_sleep, o.fsync_interval) == (0o660, "always", 50, 1000), o
o.fsync = "none"
o.reap_interval = 20
o.max_writers = 2
with open(sys.argv[1], "w") as f:
    yaml.dump(dataclasses.asdict(o), f, explicit_start=True, explicit_end=True, sort_keys=False,
              default_flow_style=False)
)PY",
             file);
  const auto loaded = shmkit::from_yaml<shmkit::DataLoggerOptions>(file);
  EXPECT_EQ(loaded.mode, 0660U);
  EXPECT_EQ(loaded.fsync, shmkit::FsyncPolicy::none);
  EXPECT_EQ(loaded.idle_sleep, std::chrono::microseconds{50});
  EXPECT_EQ(loaded.reap_interval, std::chrono::milliseconds{20});
  EXPECT_EQ(loaded.max_writers, 2U);
}

}  // namespace
