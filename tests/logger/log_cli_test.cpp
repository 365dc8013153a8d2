// `shmkit log` as a user runs it: the real binary through a shell, with
// real producer processes (bench) and a real signal (serve).

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <thread>

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/log_writer.hpp>
#include <shmkit/logger/options.hpp>

#include <boost/describe.hpp>
#include <boost/mp11.hpp>

#include "logger_test_util.hpp"

namespace shmkit {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::CommandResult;
using testing::contains;
using testing::InstanceName;
using testing::make_payload;
using testing::run_command;
using testing::run_python;
using testing::shmkit_binary;
using testing::shmkit_command;
using testing::TempDir;

TEST(LogCliTest, BenchInfoAssembleCat) {
  InstanceName name("bench");
  TempDir dir;
  const auto bench = shmkit_command("log bench --instance " + name.str() + " --out " + dir.path().string() +
                                    " --producers 2 --entries 5000 --size 100 --fsync none");
  ASSERT_EQ(bench.exit_code, 0) << bench.output;
  EXPECT_TRUE(contains(bench.output, "saved: 10002 entries")) << bench.output;  // + one onset per source
  EXPECT_TRUE(contains(bench.output, "entries/s")) << bench.output;
  EXPECT_TRUE(contains(bench.output, "MB/s")) << bench.output;
  EXPECT_TRUE(contains(bench.output, "p99.9")) << bench.output;
  EXPECT_TRUE(contains(bench.output, "dropped: 0")) << bench.output;
  EXPECT_FALSE(testing::segment_exists("shmkit-log." + name.str()));

  const std::string log_dir = (dir.path() / (name.str() + "_data_log")).string();
  const auto info = shmkit_command("log info " + log_dir);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_TRUE(contains(info.output, "RECORD FILES")) << info.output;
  EXPECT_TRUE(contains(info.output, "log assemble")) << info.output;

  const auto assemble = shmkit_command("log assemble " + log_dir + " --compress 3 --remove-sources --threads 2");
  ASSERT_EQ(assemble.exit_code, 0) << assemble.output;
  EXPECT_TRUE(contains(assemble.output, "1_log.npz: 5001 entries")) << assemble.output;
  EXPECT_TRUE(contains(assemble.output, "assembled 10002 entries from 2 sources")) << assemble.output;

  const std::string archive = log_dir + "/2_log.npz";
  const auto python = run_python(dir, R"(
import sys
import numpy as np
with np.load(sys.argv[1]) as f:
    names = f.files
    first, last = f[names[0]], f[names[-1]]
    print(len(names), names[0], first.shape[0], last.shape[0], last[0])
)",
                                 archive);
  ASSERT_EQ(python.exit_code, 0) << python.output;
  EXPECT_EQ(python.output, "5001 002_00000000000000000000 17 109 2\n");

  const auto archive_info = shmkit_command("log info " + archive);
  ASSERT_EQ(archive_info.exit_code, 0) << archive_info.output;
  EXPECT_TRUE(contains(archive_info.output, "entries:  5001")) << archive_info.output;
  EXPECT_TRUE(contains(archive_info.output, "messages: 5000")) << archive_info.output;

  const auto cat = shmkit_command("log cat " + archive + " --limit 2");
  ASSERT_EQ(cat.exit_code, 0) << cat.output;
  const auto lines = std::count(cat.output.begin(), cat.output.end(), '\n');
  EXPECT_EQ(lines, 3) << cat.output;  // header + 2 entries
  EXPECT_TRUE(contains(cat.output, "\n2 0 ")) << cat.output;
  EXPECT_TRUE(contains(cat.output, " onset\n")) << cat.output;
  EXPECT_TRUE(contains(cat.output, " 100 01 20 3f")) << cat.output;  // producer 1's payload pattern
}

TEST(LogCliTest, ServeRunsUntilSigtermThenDrains) {
  InstanceName name("serve");
  TempDir dir;
  const auto output = dir / "serve.out";
  const std::string command = "exec " + shmkit_binary() + " log serve --instance " + name.str() + " --out " +
                              dir.path().string() + " > " + output.string() + " 2>&1";
  Child server([&] {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    throw std::runtime_error("exec failed");
  });
  // The segment exists as soon as the logger is constructed; entries wait
  // in the ring until its saver runs.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!testing::segment_exists("shmkit-log." + name.str())) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the server never created its segment";
    std::this_thread::sleep_for(1ms);  // polling with a deadline
  }
  {
    auto writer = LogWriter::connect(name.str());
    ASSERT_TRUE(writer.write_onset(4));
    for (std::uint64_t t = 1; t <= 1000; ++t) {
      ASSERT_TRUE(writer.log(4, t, make_payload(t % 300, t)));
    }
  }
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  const auto result = server.wait();
  EXPECT_TRUE(result.exited && result.exit_code == 0) << "exit " << result.exit_code << " signal " << result.signal;
  std::ifstream in(output);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(contains(text, "stopped by SIGTERM: saved 1001 entries")) << text;
  EXPECT_FALSE(testing::segment_exists("shmkit-log." + name.str()));

  const std::string log_dir = (dir.path() / (name.str() + "_data_log")).string();
  const auto assemble = shmkit_command("log assemble " + log_dir);
  ASSERT_EQ(assemble.exit_code, 0) << assemble.output;
  LogArchiveReader reader(log_dir + "/4_log.npz");
  EXPECT_EQ(reader.entry_count(), 1001U);
  EXPECT_TRUE(reader.onset_us().has_value());
}

// The text the file at `path` holds once it contains `part`, or what it
// holds at the deadline.
std::string wait_for_text(const std::filesystem::path& path, std::string_view part) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::string text;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (contains(text, part)) {
      break;
    }
    std::this_thread::sleep_for(1ms);  // polling with a deadline
  }
  return text;
}

TEST(LogCliTest, ServeTakesItsOptionsFromAConfigFile) {
  InstanceName name("config");
  TempDir dir;
  const auto config = dir / "logger.yaml";
  std::ofstream(config) << "---\nmax_writers: 1\nmode: 0640\nfsync: always\nfsync_interval: 20\n...\n";
  const auto output = dir / "serve.out";
  // --max-writers on the command line overrides the file's value.
  const std::string command = "exec " + shmkit_binary() + " log serve --config " + config.string() +
                              " --max-writers 2 --instance " + name.str() + " --out " + dir.path().string() + " > " +
                              output.string() + " 2>&1";
  Child server([&] {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    throw std::runtime_error("exec failed");
  });
  const std::string started = wait_for_text(output, "logging instance");
  ASSERT_TRUE(contains(started, "logging instance")) << started;
  const std::string segment = "shmkit-log." + name.str();
  EXPECT_EQ(testing::segment_mode(segment), 0640U);
  {
    auto first = LogWriter::connect(name.str());
    auto second = LogWriter::connect(name.str());
    EXPECT_TRUE(testing::throws_with<Error>([&] { (void)LogWriter::connect(name.str()); }, {"all 2 writer slots"}));
    ASSERT_TRUE(first.write_onset(1));
  }
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  const auto result = server.wait();
  EXPECT_TRUE(result.exited && result.exit_code == 0) << "exit " << result.exit_code << " signal " << result.signal;
  EXPECT_FALSE(testing::segment_exists(segment));
}

TEST(LogCliTest, ServeOptionsOverrideEverySettingOfTheFile) {
  InstanceName name("override");
  TempDir dir;
  const auto config = dir / "logger.yaml";
  const auto written = dir / "written.yaml";
  DataLoggerOptions in_file;  // every setting differs from its default
  in_file.max_writers = 3;
  in_file.ring_bytes = std::size_t{1} << 17;
  in_file.mode = 0640;
  in_file.fsync = FsyncPolicy::always;
  in_file.fsync_interval = 250ms;
  in_file.idle_sleep = 75us;
  in_file.reap_interval = 2s;
  in_file.file_buffer_bytes = 65536;
  in_file.remove_segment_on_destroy = false;
  to_yaml(in_file, config);
  const std::string serve =
      "log serve --instance " + name.str() + " --out " + dir.path().string() + " --config " + config.string();

  // With no option given, --write-config writes the file's settings back.
  CommandResult r = shmkit_command(serve + " --write-config " + written.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(to_yaml_string(from_yaml<DataLoggerOptions>(written)), to_yaml_string(in_file));
  EXPECT_FALSE(testing::segment_exists("shmkit-log." + name.str()));  // and runs no logger

  // One option for each setting, each a value the file does not hold.
  r = shmkit_command(serve +
                     " --max-writers 5 --ring-bytes 262144 --mode 0660 --fsync none --fsync-interval 40"
                     " --idle-sleep 9 --reap-interval 30 --file-buffer-bytes 4096 --remove-segment --write-config " +
                     written.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto options = from_yaml<DataLoggerOptions>(written);
  EXPECT_EQ(options.max_writers, 5U);
  EXPECT_EQ(options.ring_bytes, 262144U);
  EXPECT_EQ(options.mode, 0660U);
  EXPECT_EQ(options.fsync, FsyncPolicy::none);
  EXPECT_EQ(options.fsync_interval, 40ms);
  EXPECT_EQ(options.idle_sleep, 9us);
  EXPECT_EQ(options.reap_interval, 30ms);
  EXPECT_EQ(options.file_buffer_bytes, 4096U);
  EXPECT_TRUE(options.remove_segment_on_destroy);
  // A setting added to DataLoggerOptions without an option here fails this.
  boost::mp11::mp_for_each<boost::describe::describe_members<DataLoggerOptions, boost::describe::mod_public>>(
      [&](auto member) {
        EXPECT_NE(options.*member.pointer, in_file.*member.pointer) << member.name << " kept the file's value";
      });

  // --keep-segment turns off the file's (or the default's) removal.
  r = shmkit_command("log serve --instance " + name.str() + " --out " + dir.path().string() +
                     " --keep-segment --write-config " + written.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(from_yaml<DataLoggerOptions>(written).remove_segment_on_destroy);
}

TEST(LogCliTest, ServeRejectsABadConfigFile) {
  InstanceName name("badconfig");
  TempDir dir;
  const auto config = dir / "logger.yaml";
  std::ofstream(config) << "max_writers: 4\nfsync: sometimes\n";
  const auto bad_value = shmkit_command("log serve --config " + config.string() + " --instance " + name.str() +
                                        " --out " + dir.path().string());
  EXPECT_EQ(bad_value.exit_code, 1) << bad_value.output;
  EXPECT_TRUE(contains(bad_value.output, config.string() + ":2:8: fsync: 'sometimes' is not a valid choice"))
      << bad_value.output;
  EXPECT_FALSE(testing::segment_exists("shmkit-log." + name.str()));

  std::ofstream(config) << "mode: 0444\n";
  const auto read_only = shmkit_command("log serve --config " + config.string() + " --instance " + name.str() +
                                        " --out " + dir.path().string());
  EXPECT_EQ(read_only.exit_code, 1) << read_only.output;
  EXPECT_TRUE(contains(read_only.output, config.string() + ":1:7: mode: invalid mode 0444")) << read_only.output;
  EXPECT_TRUE(contains(read_only.output, "read and write")) << read_only.output;
}

TEST(LogCliTest, ErrorsNameTheProblem) {
  TempDir dir;
  const auto missing = shmkit_command("log cat " + (dir / "nope.npz").string());
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_TRUE(contains(missing.output, "nope.npz")) << missing.output;

  const auto bad_name = shmkit_command("log serve --instance 'bad/name' --out " + dir.path().string());
  EXPECT_EQ(bad_name.exit_code, 1) << bad_name.output;
  EXPECT_TRUE(contains(bad_name.output, "bad/name")) << bad_name.output;

  // A damaged record file: the valid prefix is assembled, the damage is
  // reported with file and offset, and the exit status says so.
  const auto log_dir = dir / "x_data_log";
  std::filesystem::create_directories(log_dir);
  std::ofstream(log_dir / "001_000001_000000.shmlog", std::ios::binary) << "SHMKLOG1 not really";
  const auto damaged = shmkit_command("log assemble " + log_dir.string());
  EXPECT_EQ(damaged.exit_code, 1) << damaged.output;
  EXPECT_TRUE(contains(damaged.output, "001_000001_000000.shmlog")) << damaged.output;
  EXPECT_TRUE(contains(damaged.output, "offset")) << damaged.output;

  const auto not_archive = dir / "junk.npz";
  std::ofstream(not_archive) << "this is not a zip file at all, just text";
  const auto cat = shmkit_command("log cat " + not_archive.string());
  EXPECT_EQ(cat.exit_code, 1) << cat.output;
  EXPECT_TRUE(contains(cat.output, "junk.npz")) << cat.output;
}

}  // namespace
}  // namespace shmkit
