// YAML-backed config structs: round trips, the file's flavour, every error
// class with its key path and line, and atomic saves.

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/core/error.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "config_test_types.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using shmkit::ConfigError;
using shmkit::testing::Camera;
using shmkit::testing::filled_rig;
using shmkit::testing::Rig;
using shmkit::testing::Session;
using shmkit::testing::TempDir;
using shmkit::testing::throws_with;
using shmkit::testing::Timing;
using shmkit::testing::Trigger;
using namespace std::chrono_literals;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& path, std::string_view text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Loads `yaml` as a Config and expects a ConfigError at `line` about
// `key_path` whose message holds every keyword.
template <class Config = Rig>
::testing::AssertionResult rejects(std::string_view yaml, std::string_view key_path, std::size_t line,
                                   std::initializer_list<std::string_view> keywords) {
  try {
    (void)shmkit::from_yaml_string<Config>(yaml);
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    if (e.key_path() != key_path) {
      return ::testing::AssertionFailure()
             << "key path '" << e.key_path() << "', expected '" << key_path << "': " << message;
    }
    if (e.line() != line) {
      return ::testing::AssertionFailure() << "line " << e.line() << ", expected " << line << ": " << message;
    }
    const std::string located = "<string>:" + std::to_string(line) + ":";
    if (message.find(located) == std::string::npos) {
      return ::testing::AssertionFailure() << "message lacks \"" << located << "\": " << message;
    }
    if (!key_path.empty() && message.find(key_path) == std::string::npos) {
      return ::testing::AssertionFailure() << "message lacks the key path: " << message;
    }
    for (const std::string_view keyword : keywords) {
      if (message.find(keyword) == std::string::npos) {
        return ::testing::AssertionFailure() << "message lacks \"" << keyword << "\": " << message;
      }
    }
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "expected ConfigError, got: " << e.what();
  }
  return ::testing::AssertionFailure() << "the YAML was accepted";
}

// --- round trips and flavour -------------------------------------------------

TEST(ConfigTest, RoundTripOfEverySupportedTypeNestedThreeLevels) {
  const TempDir dir;
  const Rig rig = filled_rig();
  shmkit::to_yaml(rig, dir / "rig.yaml");
  const Rig again = shmkit::from_yaml<Rig>(dir / "rig.yaml");
  EXPECT_TRUE(again == rig) << read_text(dir / "rig.yaml");
  // Saving what was loaded writes the same bytes.
  EXPECT_EQ(shmkit::to_yaml_string(again), read_text(dir / "rig.yaml"));
}

TEST(ConfigTest, DefaultsRoundTripThroughAString) {
  const Rig rig;
  EXPECT_TRUE(shmkit::from_yaml_string<Rig>(shmkit::to_yaml_string(rig)) == rig);
}

TEST(ConfigTest, OutputIsBlockStyleInDeclarationOrderBetweenMarkers) {
  Rig rig;
  rig.cameras = {{"side", Camera{}}};
  const std::string text = shmkit::to_yaml_string(rig);
  EXPECT_EQ(text.rfind("---\n", 0), 0U) << text;
  EXPECT_TRUE(text.ends_with("\n...\n")) << text;
  EXPECT_EQ(text.find('{'), std::string::npos) << "flow style in: " << text;
  // Declaration order, 2-space indentation for nested mappings, PyYAML's
  // unindented block sequences.
  EXPECT_LT(text.find("enabled:"), text.find("i8:"));
  EXPECT_LT(text.find("i8:"), text.find("main_camera:"));
  EXPECT_NE(text.find("channels:\n- 1\n- 2\n- 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cameras:\n  side:\n    exposure_us: 10000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("seed: null\n"), std::string::npos) << text;
  EXPECT_NE(text.find("notes: []\n"), std::string::npos) << text;
  EXPECT_NE(text.find("trigger: internal\n"), std::string::npos) << text;
  EXPECT_NE(text.find("f64: 0.1\n"), std::string::npos) << text;
}

TEST(ConfigTest, TextThatLooksLikeAnotherTypeIsQuoted) {
  Rig rig;
  rig.animal = "yes";
  rig.main_camera.serial = "123";
  const std::string text = shmkit::to_yaml_string(rig);
  EXPECT_NE(text.find("animal: 'yes'\n"), std::string::npos) << text;
  EXPECT_NE(text.find("serial: '123'\n"), std::string::npos) << text;
}

TEST(ConfigTest, MissingKeysKeepDefaults) {
  const Rig rig = shmkit::from_yaml_string<Rig>("---\nanimal: rat-7\nmain_camera:\n  gain: 2.0\n...\n");
  EXPECT_EQ(rig.animal, "rat-7");
  EXPECT_EQ(rig.main_camera.gain, 2.0F);
  EXPECT_EQ(rig.main_camera.exposure_us, Camera{}.exposure_us);
  EXPECT_EQ(rig.u16, Rig{}.u16);
}

TEST(ConfigTest, MixinGivesThePythonStyleMethods) {
  const TempDir dir;
  shmkit::testing::Operator person;
  person.name = "grace";
  person.to_yaml(dir / "operator.yml");
  EXPECT_EQ(person.to_yaml_string(), read_text(dir / "operator.yml"));
  const auto loaded = shmkit::testing::Operator::from_yaml(dir / "operator.yml");
  EXPECT_EQ(loaded.name, "grace");
  EXPECT_EQ(loaded.level, 3);
  EXPECT_EQ(shmkit::testing::Operator::from_yaml_string("level: 9\n").level, 9);
}

// --- exclusion and unknown keys ----------------------------------------------

TEST(ConfigTest, ExcludedFieldsAreNotWrittenAndKeepTheirValueOnLoad) {
  Session session;
  session.raw_data_path = "/fast/disk";
  const std::string text = shmkit::to_yaml_string(session);
  EXPECT_EQ(text.find("raw_data_path"), std::string::npos) << text;

  Session loaded;
  loaded.raw_data_path = "/kept";
  shmkit::update_from_yaml_string(loaded, "---\nanimal: rat\n...\n");
  EXPECT_EQ(loaded.animal, "rat");
  EXPECT_EQ(loaded.raw_data_path, "/kept");

  EXPECT_TRUE(throws_with<ConfigError>(
      [] { (void)shmkit::from_yaml_string<Session>("animal: rat\nraw_data_path: /elsewhere\n"); },
      {"raw_data_path", "not read from the file", ":2:"}));
}

TEST(ConfigTest, UnknownKeyIsAnErrorWithASuggestion) {
  EXPECT_TRUE(rejects("---\nanimal: rat\nmain_camera:\n  gian: 2.0\n...\n", "main_camera.gian", 4,
                      {"unknown", "did you mean 'gain'"}));
}

TEST(ConfigTest, UnknownKeysCanBeAllowed) {
  shmkit::YamlLoadOptions options;
  options.allow_unknown_keys = true;
  const Rig rig = shmkit::from_yaml_string<Rig>("animal: rat\nno_such_key: 1\n", options);
  EXPECT_EQ(rig.animal, "rat");
}

// --- error classes -------------------------------------------------------------

TEST(ConfigTest, WrongScalarType) {
  EXPECT_TRUE(rejects("animal: rat\nu32: 1.5\n", "u32", 2, {"1.5"}));
  EXPECT_TRUE(rejects("enabled: maybe\n", "enabled", 1, {"maybe"}));
  EXPECT_TRUE(rejects("channels: 7\n", "channels", 1, {"list"}));
  EXPECT_TRUE(rejects("main_camera:\n  roi: [1, 2]\n", "main_camera.roi", 2, {"list"}));
}

TEST(ConfigTest, IntegerOutOfRangeIsNeverWrapped) {
  EXPECT_TRUE(rejects("u8: 300\n", "u8", 1, {"300", "out of range", "0 to 255"}));
  EXPECT_TRUE(rejects("i8: -129\n", "i8", 1, {"-129", "out of range"}));
  EXPECT_TRUE(rejects("u64: -1\n", "u64", 1, {"-1", "out of range"}));
  EXPECT_TRUE(rejects("main_camera:\n  roi:\n    box: [0, 0, 70000, 4]\n", "main_camera.roi.box[2]", 3,
                      {"70000", "out of range", "65535"}));
}

TEST(ConfigTest, WrongStdArrayLength) {
  EXPECT_TRUE(rejects("main_camera:\n  roi:\n    box:\n    - 1\n    - 2\n    - 3\n", "main_camera.roi.box", 4,
                      {"exactly 4", "found 3"}));
}

TEST(ConfigTest, BadEnumNameListsTheValidNames) {
  EXPECT_TRUE(rejects("main_camera:\n  trigger: externel\n", "main_camera.trigger", 2,
                      {"'externel'", "internal", "external", "software", "did you mean 'external'"}));
}

TEST(ConfigTest, NonMappingDocument) {
  EXPECT_TRUE(rejects("---\n- 1\n- 2\n...\n", "", 2, {"top level", "list"}));
}

TEST(ConfigTest, EmptyFile) {
  const TempDir dir;
  write_text(dir / "empty.yaml", "");
  EXPECT_TRUE(
      throws_with<ConfigError>([&] { (void)shmkit::from_yaml<Rig>(dir / "empty.yaml"); }, {"empty.yaml", "empty"}));
  EXPECT_TRUE(rejects("---\n...\n", "", 1, {"holds no settings"}));
}

TEST(ConfigTest, SyntaxErrorCarriesLineAndColumn) {
  try {
    (void)shmkit::from_yaml_string<Rig>("animal: rat\nmain_camera:\n  gain: [1, 2\n");
    ADD_FAILURE() << "broken YAML was accepted";
  } catch (const ConfigError& e) {
    EXPECT_GE(e.line(), 3U) << e.what();
    EXPECT_GT(e.column(), 0U) << e.what();
    EXPECT_NE(std::string(e.what()).find("syntax"), std::string::npos) << e.what();
  }
}

// --- durations and octal fields ----------------------------------------------

TEST(ConfigTest, DurationsAreCountsInTheirOwnUnitAndModesAreOctal) {
  EXPECT_EQ(shmkit::to_yaml_string(Timing{}),
            "---\n"
            "timeout: 30\n"
            "interval: 1500\n"
            "resolution: 250\n"
            "period: 0.5\n"
            "retention: 90\n"
            "deadline: null\n"
            "backoff:\n"
            "- 10\n"
            "- 100\n"
            "mode: 0600\n"
            "...\n");
  const Timing timing = shmkit::testing::filled_timing();
  const std::string text = shmkit::to_yaml_string(timing);
  EXPECT_NE(text.find("\nmode: 02775\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nresolution: 9223372036854775807\n"), std::string::npos) << text;
  EXPECT_TRUE(shmkit::from_yaml_string<Timing>(text) == timing) << text;
  Timing zero;
  zero.mode = 0;
  EXPECT_NE(shmkit::to_yaml_string(zero).find("\nmode: 0\n"), std::string::npos);
  EXPECT_EQ(shmkit::from_yaml_string<Timing>(shmkit::to_yaml_string(zero)).mode, 0U);
}

TEST(ConfigTest, OctalFieldReadsEveryOctalSpellingAndDecimal) {
  // 0600 as written by hand and by YAML 1.1, 0o600 as YAML 1.2 writes it,
  // 384 as PyYAML dumps the int 0o600.
  for (const std::string_view spelling : {"0600", "0o600", "384", "0x180", "0_600"}) {
    EXPECT_EQ(shmkit::from_yaml_string<Timing>("mode: " + std::string(spelling) + "\n").mode, 0600U) << spelling;
  }
  // Without the leading 0 a number is decimal, as in Python.
  EXPECT_EQ(shmkit::from_yaml_string<Timing>("mode: 600\n").mode, 600U);
  // The leading-zero rule still holds for fields that are not octal.
  EXPECT_TRUE(rejects<Timing>("timeout: 010\n", "timeout", 1, {"leading zeros", "ambiguous"}));
}

TEST(ConfigTest, OctalFieldErrors) {
  EXPECT_TRUE(rejects<Timing>("mode: 0680\n", "mode", 1, {"'0680'", "not an octal number"}));
  EXPECT_TRUE(rejects<Timing>("mode: -0600\n", "mode", 1, {"out of range", "unsigned"}));
  EXPECT_TRUE(rejects<Timing>("mode: 0100000000000\n", "mode", 1, {"out of range", "32-bit unsigned"}));
  // Within mode_t but more than the permission bits: a file type (S_IFREG is
  // 0100000) or a typo, which open(2) would drop without a word.
  EXPECT_TRUE(rejects<Timing>("mode: 0100600\n", "mode", 1, {"'0100600' is out of range", "0 to 07777"}));
  EXPECT_TRUE(rejects<Timing>("mode: 0o10000\n", "mode", 1, {"out of range", "0 to 07777"}));
  EXPECT_TRUE(rejects<Timing>("mode: 4096\n", "mode", 1, {"'4096' is out of range", "0 to 07777"}));
  EXPECT_EQ(shmkit::from_yaml_string<Timing>("mode: 07777\n").mode, 07777U);
  // Nor is such a value saved: the file would not load back.
  Timing wide;
  wide.mode = 0100600;
  EXPECT_TRUE(throws_with<ConfigError>([&] { (void)shmkit::to_yaml_string(wide); },
                                       {"mode", "0100600 is out of range", "0 to 07777"}));
  EXPECT_TRUE(rejects<Timing>("mode: rw-------\n", "mode", 1, {"permission bits in octal", "0600"}));
  EXPECT_TRUE(rejects<Timing>("mode: '0600'\n", "mode", 1, {"permission bits", "remove the quotes"}));
}

TEST(ConfigTest, DurationErrorsNameTheUnit) {
  EXPECT_TRUE(rejects<Timing>("timeout: 30\ninterval: 1s\n", "interval", 2,
                              {"expected a whole number of milliseconds", "'1s'"}));
  EXPECT_TRUE(rejects<Timing>("resolution: 2.5\n", "resolution", 1, {"whole number of nanoseconds"}));
  EXPECT_TRUE(rejects<Timing>("period: fast\n", "period", 1, {"a number of seconds", "'fast'"}));
  EXPECT_TRUE(rejects<Timing>("retention: 65536\n", "retention", 1, {"out of range", "16-bit unsigned"}));
  EXPECT_TRUE(rejects<Timing>("retention: x\n", "retention", 1, {"a whole number of minutes"}));
  EXPECT_TRUE(rejects<Timing>("backoff: [10, 20ms]\n", "backoff[1]", 1, {"whole number of milliseconds"}));
  EXPECT_TRUE(rejects<Timing>("timeout: null\n", "timeout", 1, {"seconds", "null"}));
  EXPECT_EQ(shmkit::from_yaml_string<Timing>("deadline: 250\n").deadline, std::optional(250us));
}

TEST(ConfigTest, DurationUnitNames) {
  EXPECT_EQ(shmkit::detail::duration_unit(1, 1'000'000'000), "nanoseconds");
  EXPECT_EQ(shmkit::detail::duration_unit(3'600, 1), "hours");
  EXPECT_EQ(shmkit::detail::duration_unit(1, 60), "units of 1/60 s");
  EXPECT_EQ(shmkit::detail::duration_unit(90, 1), "units of 90 s");
}

TEST(ConfigTest, NullOnlyForOptionalFields) {
  EXPECT_TRUE(rejects("u16: null\n", "u16", 1, {"null"}));
  EXPECT_FALSE(shmkit::from_yaml_string<Rig>("seed: null\n").seed.has_value());
  EXPECT_EQ(shmkit::from_yaml_string<Rig>("seed: 7\n").seed, 7);
}

TEST(ConfigTest, FailedLoadLeavesTheTargetUnchanged) {
  Rig rig = filled_rig();
  const Rig before = rig;
  EXPECT_THROW(shmkit::update_from_yaml_string(rig, "animal: changed\nu8: 300\n"), ConfigError);
  EXPECT_TRUE(rig == before);
}

TEST(ConfigTest, FileErrorsNameTheFile) {
  const TempDir dir;
  write_text(dir / "rig.yaml", "animal: rat\nu8: 300\n");
  EXPECT_TRUE(throws_with<ConfigError>([&] { (void)shmkit::from_yaml<Rig>(dir / "rig.yaml"); },
                                       {(dir / "rig.yaml").string() + ":2:", "u8", "300"}));
  EXPECT_TRUE(throws_with<shmkit::NotFoundError>([&] { (void)shmkit::from_yaml<Rig>(dir / "missing.yaml"); },
                                                 {"missing.yaml"}));
}

TEST(ConfigTest, OnlyYamlExtensionsAreAccepted) {
  const TempDir dir;
  EXPECT_TRUE(throws_with<ConfigError>([&] { shmkit::to_yaml(Rig{}, dir / "rig.json"); }, {"rig.json", ".yaml"}));
  EXPECT_FALSE(fs::exists(dir / "rig.json"));
  write_text(dir / "rig.txt", "animal: rat\n");
  EXPECT_TRUE(throws_with<ConfigError>([&] { (void)shmkit::from_yaml<Rig>(dir / "rig.txt"); }, {"rig.txt"}));
  shmkit::to_yaml(Rig{}, dir / "rig.yml");
  EXPECT_TRUE(fs::exists(dir / "rig.yml"));
}

// --- atomic save ----------------------------------------------------------------

TEST(ConfigTest, SaveIntoAPathThatCannotBeADirectoryFailsClearly) {
  const TempDir dir;
  write_text(dir / "plain-file", "not a directory");
  EXPECT_TRUE(throws_with<shmkit::Error>([&] { shmkit::to_yaml(Rig{}, dir / "plain-file/rig.yaml"); },
                                         {"plain-file", "cannot create directory", "unchanged"}));
  EXPECT_EQ(read_text(dir / "plain-file"), "not a directory");
}

TEST(ConfigTest, FailedWriteMidwayLeavesTheOldFileByteForByte) {
  // A child process with a file-size limit smaller than the new text: the
  // write of the temporary file fails midway (EFBIG), as a full disk would.
  const TempDir dir;
  shmkit::to_yaml(Rig{}, dir / "rig.yaml");
  const std::string before = read_text(dir / "rig.yaml");
  Rig big = filled_rig();
  big.notes.assign(2000, std::string(40, 'x'));
  shmkit::testing::Child child([&] {
    ::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
    rlimit limit{1024, 1024};
    shmkit::testing::require(::setrlimit(RLIMIT_FSIZE, &limit) == 0, "setrlimit failed");
    bool threw = false;
    try {
      shmkit::to_yaml(big, dir / "rig.yaml");
    } catch (const shmkit::Error&) {
      threw = true;
    }
    shmkit::testing::require(threw, "a save past the file-size limit reported success");
  });
  EXPECT_TRUE(shmkit::testing::exited_ok(child.wait()));
  EXPECT_EQ(read_text(dir / "rig.yaml"), before);
  // No temporary file is left behind.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) {
    ++files;
  }
  EXPECT_EQ(files, 1U);
}

TEST(ConfigTest, SaveReplacesAnExistingFileAndCreatesDirectories) {
  const TempDir dir;
  shmkit::to_yaml(Rig{}, dir / "nested/deeper/rig.yaml");
  shmkit::to_yaml(filled_rig(), dir / "nested/deeper/rig.yaml");
  EXPECT_TRUE(shmkit::from_yaml<Rig>(dir / "nested/deeper/rig.yaml") == filled_rig());
}

}  // namespace
