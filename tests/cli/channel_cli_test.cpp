// `shmkit channel ls/info/echo/record`, `shmkit ls` and `shmkit gc` on
// channels: the real binary, through a shell, on channels this test owns.

#include <shmkit/channel/channel.hpp>
#include <shmkit/logger/archive_reader.hpp>
#include <shmkit/logger/assemble.hpp>
#include <shmkit/logger/data_logger.hpp>

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "../channel/channel_names.hpp"
#include "test_support.hpp"

namespace {

using shmkit::Channel;
using shmkit::Dtype;
using shmkit::SampleSpec;
using shmkit::testing::Child;
using shmkit::testing::CommandResult;
using shmkit::testing::contains;
using shmkit::testing::run_command;
using shmkit::testing::ScopedChannelName;
using shmkit::testing::ScopedName;
using shmkit::testing::shmkit_command;
using shmkit::testing::Signal;

// Publishes frames whose elements all equal the frame number.
void publish_frames(shmkit::DynamicPublisher& pub, std::uint16_t first, std::uint16_t last) {
  for (std::uint16_t i = first; i <= last; ++i) {
    auto loan = pub.loan();
    ASSERT_TRUE(loan);
    loan->view<std::uint16_t>().fill(i);
    pub.publish(std::move(*loan));
  }
}

TEST(ChannelCliTest, LsInfoAndEchoDescribeALiveChannel) {
  const ScopedChannelName name;
  auto channel = Channel::create(name, {.sample = SampleSpec::array(Dtype::u2, {2, 3}), .slots = 8, .history = 3});
  auto pub = channel.publisher();
  auto sub = channel.subscriber();
  publish_frames(pub, 1, 5);
  ASSERT_TRUE(sub.receive());

  const auto ls = shmkit_command("channel ls");
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_TRUE(contains(ls.output, name.str())) << ls.output;
  EXPECT_TRUE(contains(ls.output, "<u2 (2, 3)")) << ls.output;

  const auto all = shmkit_command("ls");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  EXPECT_TRUE(contains(all.output, Channel::segment_name(name))) << all.output;
  EXPECT_TRUE(contains(all.output, "channel")) << all.output;

  const auto info = shmkit_command("channel info " + name.str() + " --interval 0");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_TRUE(contains(info.output, "published:   5")) << info.output;
  EXPECT_TRUE(contains(info.output, std::to_string(::getpid()) + " (alive)")) << info.output;
  EXPECT_TRUE(contains(info.output, "MISSED")) << info.output;
  EXPECT_TRUE(contains(info.output, "history 3")) << info.output;

  // The history (3 newest) is what a new subscriber gets first.
  const auto echo = shmkit_command("channel echo " + name.str() + " --count 3 --timeout 10");
  ASSERT_EQ(echo.exit_code, 0) << echo.output;
  EXPECT_TRUE(contains(echo.output, "#3 ")) << echo.output;
  EXPECT_TRUE(contains(echo.output, "#5 ")) << echo.output;
  EXPECT_FALSE(contains(echo.output, "#2 ")) << echo.output;
  EXPECT_TRUE(contains(echo.output, "<u2 (2, 3) [5, 5, 5, 5, 5, 5]")) << echo.output;
  EXPECT_TRUE(contains(echo.output, "3 samples printed, 0 missed")) << echo.output;
  EXPECT_EQ(channel.info().subscribers.size(), 1U) << "echo disconnected on exit";
}

TEST(ChannelCliTest, EchoEndsAfterItsIdleTimeout) {
  const ScopedChannelName name;
  auto channel = Channel::create(name, {.sample = SampleSpec::bytes_of(16)});
  const auto echo = shmkit_command("channel echo " + name.str() + " --timeout 0.2");
  ASSERT_EQ(echo.exit_code, 0) << echo.output;
  EXPECT_TRUE(contains(echo.output, "0 samples printed")) << echo.output;
}

TEST(ChannelCliTest, RecordFeedsEverySampleIntoTheLogger) {
  const ScopedChannelName name;
  const ScopedName instance("log");
  const auto out = std::filesystem::temp_directory_path() / ("shmkit-channel-record-" + std::to_string(::getpid()));
  std::filesystem::remove_all(out);
  auto channel = Channel::create(name, {.sample = SampleSpec::array(Dtype::u2, {2, 3}), .slots = 8, .history = 4});
  auto pub = channel.publisher();
  publish_frames(pub, 1, 4);
  {
    shmkit::DataLogger logger(out, instance.str());
    logger.start();
    const auto record = shmkit_command("channel record " + name.str() + " --instance " + instance.str() +
                                       " --source 7 --count 4 --timeout 10");
    ASSERT_EQ(record.exit_code, 0) << record.output;
    EXPECT_TRUE(contains(record.output, "4 samples of channel")) << record.output;
    logger.stop();
    shmkit::assemble_log_archives(logger.log_directory());
    const shmkit::LogArchiveReader reader(logger.log_directory() / "7_log.npz");
    EXPECT_EQ(reader.message_count(), 4U);
    std::vector<std::uint16_t> firsts;
    reader.for_each_message([&](const auto& message) {
      ASSERT_EQ(message.payload.size(), 12U) << "one 2x3 uint16 frame per entry";
      std::uint16_t value = 0;
      std::memcpy(&value, message.payload.data(), sizeof value);
      firsts.push_back(value);
    });
    EXPECT_EQ(firsts, (std::vector<std::uint16_t>{1, 2, 3, 4}));
  }
  std::filesystem::remove_all(out);
}

TEST(ChannelCliTest, GcRemovesAChannelWhoseProcessesDied) {
  const ScopedChannelName name;
  const Signal created;
  Child crashed([&] {
    auto channel = Channel::create(name, {.sample = SampleSpec::bytes_of(64)});
    auto pub = channel.publisher();
    auto sub = channel.subscriber();
    created.notify();
    ::pause();
  });
  ASSERT_TRUE(created.wait());
  EXPECT_EQ(crashed.kill_and_wait().signal, SIGKILL);
  const std::string segment = Channel::segment_name(name);
  const auto gc = shmkit_command("gc '" + segment + "'");
  ASSERT_EQ(gc.exit_code, 0) << gc.output;
  EXPECT_TRUE(contains(gc.output, "removed")) << gc.output;
  EXPECT_FALSE(shmkit::testing::segment_exists(segment));
}

TEST(ChannelCliTest, BadAndMissingNamesExitOneWithTheReason) {
  const auto bad = shmkit_command("channel info 'bad/name'");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_TRUE(contains(bad.output, "'/'")) << bad.output;
  const ScopedChannelName name;
  const auto missing = shmkit_command("channel echo " + name.str() + " --count 1");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_TRUE(contains(missing.output, "no segment")) << missing.output;
}

}  // namespace
