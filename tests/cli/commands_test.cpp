// The `shmkit` command as a user runs it: the real binary, through a shell.
// Every test works on segments named after itself, and gc is always given a
// pattern, so tests running in parallel never touch each other's segments.

#include <shmkit/array/shared_array.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "test_support.hpp"

namespace {

using shmkit::SharedArray;
using shmkit::testing::Child;
using shmkit::testing::CommandResult;
using shmkit::testing::contains;
using shmkit::testing::exited_ok;
using shmkit::testing::run_command;
using shmkit::testing::ScopedName;
using shmkit::testing::segment_exists;
using shmkit::testing::segment_mode;
using shmkit::testing::shmkit_command;

TEST(CliTest, ArrayCreateSetGetInfoRm) {
  const ScopedName name;
  const std::string n = name.str();
  auto created = shmkit_command("array create " + n + " --dtype u2 --shape 2,3 --fill 5");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_TRUE(contains(created.output, "<u2")) << created.output;
  EXPECT_EQ(segment_mode(name), 0600U);

  // What the command wrote is what the library reads.
  auto array = SharedArray<std::uint16_t>::open(name);
  EXPECT_EQ(array.read({1, 2}), 5);

  auto set = shmkit_command("array set " + n + " 1 2 42");
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_EQ(array.read({1, 2}), 42);

  auto get = shmkit_command("array get " + n + " 1 2");
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_EQ(get.output, "42\n");

  auto all = shmkit_command("array get " + n);
  ASSERT_EQ(all.exit_code, 0) << all.output;
  EXPECT_EQ(all.output, "[[ 5  5  5]\n [ 5  5 42]]\n");

  auto info = shmkit_command("array info " + n);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_TRUE(contains(info.output, "(2, 3)")) << info.output;
  EXPECT_TRUE(contains(info.output, "0600")) << info.output;

  auto removed = shmkit_command("array rm " + n);
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  EXPECT_FALSE(segment_exists(name));
}

TEST(CliTest, ArrayCreateHonoursAGroupMode) {
  const ScopedName name;
  auto created = shmkit_command("array create " + name.str() + " --dtype f8 --shape 4 --mode 0660");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_EQ(segment_mode(name), 0660U);
}

TEST(CliTest, FailuresExitOneAndNameTheObject) {
  const ScopedName name;
  auto missing = shmkit_command("array get " + name.str());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.output, name.str())) << missing.output;
  EXPECT_TRUE(contains(missing.output, "shmkit: ")) << missing.output;

  auto bad_name = shmkit_command("array create 'bad/name' --dtype f4 --shape 2");
  EXPECT_EQ(bad_name.exit_code, 1);
  EXPECT_TRUE(contains(bad_name.output, "'/'")) << bad_name.output;

  ASSERT_EQ(shmkit_command("array create " + name.str() + " --dtype i4 --shape 3").exit_code, 0);
  auto out_of_range = shmkit_command("array set " + name.str() + " 3 1");
  EXPECT_EQ(out_of_range.exit_code, 1);
  EXPECT_TRUE(contains(out_of_range.output, "out of range")) << out_of_range.output;
  auto bad_dtype = shmkit_command("array create " + name.str() + "-b --shape 2 --dtype q9");
  EXPECT_EQ(bad_dtype.exit_code, 1);
  EXPECT_TRUE(contains(bad_dtype.output, "'q9'") && contains(bad_dtype.output, "f4")) << bad_dtype.output;
  auto taken = shmkit_command("array create " + name.str() + " --dtype i4 --shape 3");
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_TRUE(contains(taken.output, name.str())) << taken.output;
}

TEST(CliTest, UsageErrorsExitTwo) {
  for (const char* line : {"bogus", "array bogus", "array create x --dtype f4", "ls --no-such-flag"}) {
    auto result = shmkit_command(line);
    EXPECT_EQ(result.exit_code, 2) << line << ": " << result.output;
    EXPECT_TRUE(contains(result.output, "--help")) << line << ": " << result.output;
  }
}

TEST(CliTest, HelpOnEveryLevel) {
  for (const char* line : {"--help", "array --help", "array create --help", "array get --help", "array set --help",
                           "array info --help", "array rm --help", "ls --help", "gc --help", "demo --help"}) {
    auto result = shmkit_command(line);
    EXPECT_EQ(result.exit_code, 0) << line << ": " << result.output;
    EXPECT_TRUE(contains(result.output, "Usage:")) << line << ": " << result.output;
  }
}

TEST(CliTest, LsShowsKindShapeCreatorAndLiveness) {
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {4, 5});
  auto listed = shmkit_command("ls");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  // One row: NAME KIND SIZE DTYPE SHAPE CREATOR ALIVE ...
  const auto row_start = listed.output.find(name.str() + " ");
  ASSERT_NE(row_start, std::string::npos) << listed.output;
  const std::string row = listed.output.substr(row_start, listed.output.find('\n', row_start) - row_start);
  EXPECT_TRUE(contains(row, "array")) << row;
  EXPECT_TRUE(contains(row, "<f4")) << row;
  EXPECT_TRUE(contains(row, "(4, 5)")) << row;
  EXPECT_TRUE(contains(row, std::to_string(::getpid()))) << row;
  EXPECT_TRUE(contains(row, "yes")) << row;

  auto json = shmkit_command("ls --json");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  EXPECT_TRUE(contains(json.output, "\"" + name.str() + "\"")) << json.output;
}

TEST(CliTest, GcRemovesOnlySegmentsOfDeadCreatorsThatNobodyHasOpen) {
  const ScopedName orphan("orphan");
  const ScopedName in_use("in-use");
  const ScopedName live("live");
  // Two segments whose creator exits: one nobody holds, one this process
  // keeps open; and one whose creator (this process) is alive.
  Child creator([&] {
    (void)SharedArray<std::int32_t>::create(orphan, {8});
    (void)SharedArray<std::int32_t>::create(in_use, {8});
  });
  ASSERT_TRUE(exited_ok(creator.wait()));
  auto held = SharedArray<std::int32_t>::open(in_use);
  auto mine = SharedArray<std::int32_t>::create(live, {8});

  // The pattern confines gc to this test's own segments.
  const std::string pattern = "'shmkit-test-" + std::to_string(::getpid()) + "-*GcRemovesOnly*'";
  auto dry = shmkit_command("gc --dry-run " + pattern);
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_TRUE(contains(dry.output, "would remove")) << dry.output;
  EXPECT_TRUE(segment_exists(orphan)) << "a dry run removed a segment";

  auto gc = shmkit_command("gc " + pattern);
  ASSERT_EQ(gc.exit_code, 0) << gc.output;
  EXPECT_TRUE(contains(gc.output, orphan.str())) << gc.output;
  EXPECT_FALSE(segment_exists(orphan)) << gc.output;
  EXPECT_TRUE(segment_exists(in_use)) << gc.output;
  EXPECT_TRUE(segment_exists(live)) << gc.output;
}

TEST(CliTest, ConfigShowPrintsShmkitFlavourAndLocatesSyntaxErrors) {
  const std::string base = "/tmp/shmkit-cli-test-" + std::to_string(::getpid());
  const std::string good = base + "-good.yaml";
  const std::string bad = base + "-bad.yaml";
  std::ofstream(good) << "# a comment\nexposure: 100\nroi: [1, 2]\nlabel: \"yes\"\nnested: {a: 1}\n";
  std::ofstream(bad) << "exposure: 100\nroi: [1, 2\n";

  auto shown = shmkit_command("config show " + good);
  EXPECT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_EQ(shown.output, "---\nexposure: 100\nroi:\n- 1\n- 2\nlabel: 'yes'\nnested:\n  a: 1\n...\n");

  auto broken = shmkit_command("config show " + bad);
  EXPECT_EQ(broken.exit_code, 1) << broken.output;
  EXPECT_TRUE(contains(broken.output, bad + ":3:")) << broken.output;
  EXPECT_TRUE(contains(broken.output, "syntax error")) << broken.output;

  auto missing = shmkit_command("config show " + base + "-missing.yaml");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_TRUE(contains(missing.output, "-missing.yaml")) << missing.output;

  EXPECT_EQ(shmkit_command("config").exit_code, 2);
  EXPECT_EQ(shmkit_command("config show --help").exit_code, 0);
  std::remove(good.c_str());
  std::remove(bad.c_str());
}

TEST(CliTest, DemoReadsAndWritesItsYamlConfiguration) {
  const std::string base = "/tmp/shmkit-cli-test-" + std::to_string(::getpid());
  const std::string written = base + "-demo.yaml";
  const std::string edited = base + "-edited.yaml";
  const std::string rewritten = base + "-rewritten.yaml";
  auto read = [](const std::string& file) {
    std::ifstream in(file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };

  // The defaults, with what the command line overrides.
  auto write = shmkit_command("demo --write-config " + written + " --seconds 3");
  ASSERT_EQ(write.exit_code, 0) << write.output;
  const std::string text = read(written);
  EXPECT_TRUE(
      text.starts_with("---\nseconds: 3.0\nout: null\ncamera:\n  source_id: 2\n  frame_rate_hz: 30.0\n"
                       "  height: 512\n  width: 512\n"))
      << text;
  for (const char* section : {"\nbehaviour:\n", "\nanalysis:\n", "\nlogger:\n", "\nstore:\n"}) {
    EXPECT_TRUE(contains(text, section)) << section << " missing from\n" << text;
  }

  // A file's settings are kept, the command line overrides them, and keys
  // the file leaves out keep their defaults.
  std::ofstream(edited) << "seconds: 2\ncamera:\n  frame_rate_hz: 12.5\n";
  auto again = shmkit_command("demo --config " + edited + " --seconds 4 --out /tmp/x --write-config " + rewritten);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const std::string merged = read(rewritten);
  EXPECT_TRUE(contains(merged, "seconds: 4.0\nout: /tmp/x\n")) << merged;
  EXPECT_TRUE(contains(merged, "frame_rate_hz: 12.5\n  height: 512\n")) << merged;

  // Mistakes name the file, the position or key, and the fix.
  std::ofstream(edited) << "seconds: 2\ncamera:\n  frame_rte_hz: 10\n";
  auto typo = shmkit_command("demo --config " + edited);
  EXPECT_EQ(typo.exit_code, 1) << typo.output;
  EXPECT_TRUE(contains(typo.output, edited + ":3:3")) << typo.output;
  EXPECT_TRUE(contains(typo.output, "did you mean 'frame_rate_hz'")) << typo.output;

  std::ofstream(edited) << "camera:\n  frame_rate_hz: 0\n";
  auto zero = shmkit_command("demo --config " + edited);
  EXPECT_EQ(zero.exit_code, 1) << zero.output;
  EXPECT_TRUE(contains(zero.output, edited + ": camera.frame_rate_hz: must be 0.1 Hz to 1000 Hz, not 0"))
      << zero.output;

  std::ofstream(edited) << "analysis:\n  source_id: 2\n";
  auto shared = shmkit_command("demo --config " + edited);
  EXPECT_EQ(shared.exit_code, 1) << shared.output;
  EXPECT_TRUE(contains(shared.output, "source id 2 is taken by camera.source_id")) << shared.output;

  EXPECT_EQ(shmkit_command("demo --seconds -1").exit_code, 2);
  for (const std::string& file : {written, edited, rewritten}) {
    std::remove(file.c_str());
  }
}

}  // namespace
