// The channel's behaviour between real processes: ordering, history for late
// joiners, missed counting, latest(), waiting, the blocking policy, sample
// types checked on open, permissions and names.

#include <shmkit/channel/channel.hpp>
#include <shmkit/channel/typed.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/core/segment_scan.hpp>

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "channel_names.hpp"
#include "test_support.hpp"

namespace {

using shmkit::Channel;
using shmkit::ChannelOptions;
using shmkit::Dtype;
using shmkit::SampleSpec;
using shmkit::testing::Child;
using shmkit::testing::exited_ok;
using shmkit::testing::require;
using shmkit::testing::ScopedChannelName;
using shmkit::testing::Signal;
using shmkit::testing::throws_with;
using namespace std::chrono_literals;

struct Tick {
  std::uint64_t value;
  std::uint64_t check;  // ~value, so a torn sample shows
};

ChannelOptions tick_options(std::uint32_t slots = 8, std::uint32_t history = 1) {
  ChannelOptions options;
  options.sample = SampleSpec::value<Tick>();
  options.slots = slots;
  options.history = history;
  return options;
}

TEST(ChannelTest, SubscriberInAnotherProcessGetsEverySampleInOrder) {
  const ScopedChannelName name;
  constexpr std::uint64_t kCount = 20000;
  ChannelOptions options = tick_options(16);
  options.overflow = shmkit::ChannelOverflow::block;  // so nothing may be missed
  auto channel = Channel::create(name, options);
  const Signal subscribed;
  Child reader([&] {
    auto sub = shmkit::Subscriber<Tick>::connect(name);
    subscribed.notify();
    std::uint64_t expected = 1;
    while (expected <= kCount) {
      auto sample = sub.receive(5s);
      require(sample.has_value(), "no sample within 5 s at " + std::to_string(expected));
      require((*sample)->value == expected,
              "got " + std::to_string((*sample)->value) + ", expected " + std::to_string(expected));
      require((*sample)->check == ~expected, "torn sample");
      require(sample->sequence() == expected, "sequence number out of order");
      ++expected;
    }
    require(sub.missed() == 0, "missed samples under the blocking policy");
  });
  ASSERT_TRUE(subscribed.wait());
  auto pub = shmkit::Publisher<Tick>::attach(channel);
  for (std::uint64_t i = 1; i <= kCount; ++i) {
    auto loan = pub.loan(10s);
    ASSERT_TRUE(loan.has_value()) << "blocked for 10 s at " << i;
    (*loan)->value = i;
    (*loan)->check = ~i;
    EXPECT_EQ(pub.publish(std::move(*loan)), i);
  }
  EXPECT_TRUE(exited_ok(reader.wait()));
  EXPECT_EQ(channel.info().published, kCount);
}

TEST(ChannelTest, LateJoinerStartsWithTheHistory) {
  const ScopedChannelName name;
  auto pub = shmkit::Publisher<Tick>::create(name, tick_options(8, 3));
  for (std::uint64_t i = 1; i <= 10; ++i) {
    ASSERT_TRUE(pub.send({i, ~i}).has_value());
  }
  Child late([&] {
    auto sub = shmkit::Subscriber<Tick>::connect(name);
    require(sub.pending() == 3, "a late joiner should see 3 samples of history, sees " + std::to_string(sub.pending()));
    for (std::uint64_t i = 8; i <= 10; ++i) {
      auto sample = sub.receive();
      require(sample && (*sample)->value == i, "history sample " + std::to_string(i) + " missing");
    }
    require(!sub.receive(), "nothing beyond the history");
    require(sub.missed() == 0, "history samples are not missed");
    auto from_now = shmkit::Subscriber<Tick>::connect(name, {.start = shmkit::SubscriberStart::now});
    require(from_now.pending() == 0, "start=now skips the history");
  });
  EXPECT_TRUE(exited_ok(late.wait()));
}

TEST(ChannelTest, SlowSubscriberMissesSamplesAndIsToldHowMany) {
  const ScopedChannelName name;
  auto pub = shmkit::Publisher<Tick>::create(name, tick_options(8, 1));
  const Signal connected;
  const Signal published;
  Child slow([&] {
    auto sub = shmkit::Subscriber<Tick>::connect(name, {.start = shmkit::SubscriberStart::now});
    connected.notify();
    require(published.wait(), "publisher never finished");
    std::uint64_t got = 0;
    std::uint64_t last = 0;
    while (auto sample = sub.receive()) {
      require((*sample)->value > last, "out of order");
      last = (*sample)->value;
      ++got;
    }
    require(last == 100, "the newest sample must survive, last was " + std::to_string(last));
    require(got + sub.missed() == 100,
            "received " + std::to_string(got) + " + missed " + std::to_string(sub.missed()) + " != 100 published");
    require(sub.missed() >= 90, "with 8 slots at most 8 of 100 can be left, missed " + std::to_string(sub.missed()));
  });
  ASSERT_TRUE(connected.wait());
  for (std::uint64_t i = 1; i <= 100; ++i) {
    ASSERT_TRUE(pub.send({i, ~i}).has_value()) << "the default policy never refuses a loan here";
  }
  published.notify();
  EXPECT_TRUE(exited_ok(slow.wait()));
  const auto info = pub.channel().info();
  EXPECT_EQ(info.loans_failed, 0U);
}

TEST(ChannelTest, LatestGivesTheNewestSampleAndCountsTheSkipped) {
  const ScopedChannelName name;
  auto pub = shmkit::Publisher<Tick>::create(name, tick_options(8, 1));
  auto sub = shmkit::Subscriber<Tick>::connect(name);
  EXPECT_FALSE(sub.latest().has_value());
  for (std::uint64_t i = 1; i <= 5; ++i) {
    ASSERT_TRUE(pub.send({i, ~i}));
  }
  auto newest = sub.latest();
  ASSERT_TRUE(newest);
  EXPECT_EQ((*newest)->value, 5U);
  EXPECT_EQ(sub.skipped(), 4U);
  EXPECT_EQ(sub.missed(), 0U);
  auto again = sub.latest();  // the same sample again, held twice
  ASSERT_TRUE(again);
  EXPECT_EQ(again->sequence(), 5U);
  EXPECT_FALSE(sub.receive().has_value());
}

TEST(ChannelTest, WaitSleepsUntilAnotherProcessPublishes) {
  const ScopedChannelName name;
  auto channel = Channel::create(name, tick_options());
  auto sub = shmkit::Subscriber<Tick>::attach(channel);
  EXPECT_FALSE(sub.wait(1ms));  // nothing yet: a bounded wait returns false
  const Signal go;
  Child writer([&] {
    auto pub = shmkit::Publisher<Tick>::attach(Channel::open(name));
    require(go.wait(), "no go");
    require(pub.send({42, ~std::uint64_t{42}}).has_value(), "send failed");
  });
  go.notify();
  auto sample = sub.receive(30s);
  ASSERT_TRUE(sample);
  EXPECT_EQ((*sample)->value, 42U);
  EXPECT_TRUE(exited_ok(writer.wait()));
}

TEST(ChannelTest, BlockingPolicyWaitsForTheSlowReaderAndTimesOut) {
  const ScopedChannelName name;
  ChannelOptions options = tick_options(4, 1);
  options.overflow = shmkit::ChannelOverflow::block;
  auto pub = shmkit::Publisher<Tick>::create(name, options);
  auto sub = shmkit::Subscriber<Tick>::connect(name, {.start = shmkit::SubscriberStart::now});
  std::uint64_t sent = 0;
  while (pub.send({sent + 1, ~(sent + 1)})) {
    ++sent;
    ASSERT_LT(sent, 100U) << "the blocking policy never refused";
  }
  EXPECT_EQ(sent, 4U) << "4 slots hold 4 unread samples";
  EXPECT_FALSE(pub.loan(2ms).has_value()) << "a bounded wait ends without a slot";
  EXPECT_GE(pub.channel().info().loans_failed, 2U);
  auto first = sub.receive();
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)->value, 1U);
  first.reset();
  EXPECT_TRUE(pub.send({5, ~std::uint64_t{5}}).has_value()) << "reading one frees one";
  EXPECT_EQ(sub.missed(), 0U);
}

TEST(ChannelTest, LateJoinerUnderTheBlockingPolicyMissesNothing) {
  // The publisher keeps the lowest cursor it read until a subscriber joins;
  // one joining with history starts below it and must still hold it up.
  const ScopedChannelName name;
  ChannelOptions options = tick_options(8, 4);
  options.overflow = shmkit::ChannelOverflow::block;
  auto pub = shmkit::Publisher<Tick>::create(name, options);
  auto early = shmkit::Subscriber<Tick>::connect(name, {.start = shmkit::SubscriberStart::now});
  for (std::uint64_t i = 1; i <= 10; ++i) {
    ASSERT_TRUE(pub.send({i, ~i}));
    ASSERT_TRUE(early.receive()) << "the early subscriber keeps up";
  }
  auto late = shmkit::Subscriber<Tick>::connect(name);  // cursor 7: the 4 newest of 10
  std::uint64_t sent = 10;
  while (pub.send({sent + 1, ~(sent + 1)})) {
    ++sent;
    ASSERT_LT(sent, 100U) << "the blocking policy never refused";
  }
  EXPECT_EQ(sent, 14U) << "8 slots: 4 free of old samples, then sample 7 (unread by the late joiner) stops it";
  auto first = late.receive();
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)->value, 7U);
  first.reset();
  EXPECT_TRUE(pub.send({15, ~std::uint64_t{15}})) << "reading sample 7 frees its slot";
  for (std::uint64_t i = 8; i <= 15; ++i) {
    auto sample = late.receive();
    ASSERT_TRUE(sample) << "sample " << i << " is gone";
    EXPECT_EQ((*sample)->value, i);
  }
  EXPECT_EQ(late.missed(), 0U);
}

TEST(ChannelTest, PublishStampIsTheMonotonicClockAtPublish) {
  // publish_ns is read through the TSC where the kernel keeps time with it,
  // extrapolating from clock_gettime once the publisher is 10 ms old, and
  // must agree with CLOCK_MONOTONIC (to a microsecond by design; the bound
  // here is wider) and never go backwards. 50 ms of publishes.
  const ScopedChannelName name;
  auto pub = shmkit::Publisher<Tick>::create(name, tick_options(8, 1));
  auto sub = shmkit::Subscriber<Tick>::connect(name, {.start = shmkit::SubscriberStart::now});
  const auto now_ns = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000U + static_cast<std::uint64_t>(ts.tv_nsec);
  };
  constexpr std::uint64_t kSlack = 20000;
  const std::uint64_t start = now_ns();
  std::uint64_t last = 0;
  for (std::uint64_t i = 1; now_ns() - start < 50000000; ++i) {
    const std::uint64_t before = now_ns();
    ASSERT_TRUE(pub.send({i, ~i}));
    const std::uint64_t after = now_ns();
    auto sample = sub.receive();
    ASSERT_TRUE(sample);
    const std::uint64_t stamp = sample->publish_ns();
    ASSERT_GE(stamp + kSlack, before) << "sample " << i;
    ASSERT_LE(stamp, after + kSlack) << "sample " << i;
    ASSERT_GE(stamp, last) << "sample " << i;
    last = stamp;
  }
}

TEST(ChannelTest, EverySlotHeldMeansNoLoanUntilOneIsReleased) {
  const ScopedChannelName name;
  auto pub = shmkit::Publisher<Tick>::create(name, tick_options(4, 1));
  auto sub = shmkit::Subscriber<Tick>::connect(name);
  std::vector<shmkit::Subscriber<Tick>::Sample> held;
  for (std::uint64_t i = 1; i <= 4; ++i) {
    ASSERT_TRUE(pub.send({i, ~i}));
    auto sample = sub.receive();
    ASSERT_TRUE(sample);
    if (i < 4) {
      held.push_back(std::move(*sample));
    }
  }
  // 3 held + the newest protected by the history: nothing to loan.
  EXPECT_FALSE(pub.loan().has_value());
  held.pop_back();
  EXPECT_TRUE(pub.loan().has_value());
  for (const auto& sample : held) {
    EXPECT_EQ(sample->check, ~sample->value) << "held samples are never overwritten";
  }
}

TEST(ChannelTest, ArraySamplesAreViewedWithTheirDtypeAndShape) {
  const ScopedChannelName name;
  auto channel = Channel::create(name, {.sample = SampleSpec::array(Dtype::u2, {3, 4})});
  auto pub = channel.publisher();
  auto loan = pub.loan();
  ASSERT_TRUE(loan);
  auto view = loan->view<std::uint16_t>();
  ASSERT_EQ(view.shape().size(), 2U);
  EXPECT_EQ(view.shape()[1], 4U);
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 4; ++j) {
      view(i, j) = static_cast<std::uint16_t>(10 * i + j);
    }
  }
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)loan->view<float>(); }, {"<f4", "<u2"}));
  pub.publish(std::move(*loan));
  Child reader([&] {
    auto sub = Channel::open(name).subscriber();
    auto sample = sub.receive();
    require(sample.has_value(), "no sample");
    const auto v = sample->view<std::uint16_t>();
    require(sample->shape().size() == 2 && sample->shape()[0] == 3, "shape lost");
    require(v(2, 3) == 23 && v(1, 0) == 10, "wrong element values");
  });
  EXPECT_TRUE(exited_ok(reader.wait()));
}

TEST(ChannelTest, VariableArraysCarryTheirShapePerSample) {
  const ScopedChannelName name;
  auto channel = Channel::create(name, {.sample = SampleSpec::variable_array(Dtype::f4, 1024)});
  auto pub = channel.publisher();
  auto sub = channel.subscriber();
  const std::size_t shape[] = {4, 8};
  auto loan = pub.loan(shape);
  ASSERT_TRUE(loan);
  EXPECT_EQ(loan->bytes().size(), 4U * 8U * 4U);
  loan->view<float>()(3, 7) = 1.5F;
  pub.publish(std::move(*loan));
  const std::size_t too_big[] = {16, 17};
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)pub.loan(too_big); }, {"1088", "1024"}));
  auto sample = sub.receive();
  ASSERT_TRUE(sample);
  ASSERT_EQ(sample->shape().size(), 2U);
  EXPECT_EQ(sample->shape()[1], 8U);
  EXPECT_EQ(sample->view<float>()(3, 7), 1.5F);
}

TEST(ChannelTest, OpeningWithAnotherDtypeOrShapeIsALayoutError) {
  const ScopedChannelName name;
  auto channel = Channel::create(name, {.sample = SampleSpec::array(Dtype::u2, {480, 640})});
  Child other([&] {
    const auto wrong_dtype = [&] {
      (void)Channel::open_or_create(name, {.sample = SampleSpec::array(Dtype::f4, {480, 640})});
    };
    const auto wrong_shape = [&] {
      (void)Channel::open_or_create(name, {.sample = SampleSpec::array(Dtype::u2, {640, 480})});
    };
    const auto wrong_type = [&] { (void)shmkit::Subscriber<Tick>::connect(name); };
    require(throws_with<shmkit::LayoutError>(wrong_dtype, {"<u2", "<f4", "480, 640"}), "dtype mismatch not caught");
    require(throws_with<shmkit::LayoutError>(wrong_shape, {"(480, 640)", "(640, 480)"}), "shape mismatch not caught");
    require(throws_with<shmkit::LayoutError>(wrong_type, {"16 bytes"}), "value type mismatch not caught");
    Channel::open(name).expect(SampleSpec::array(Dtype::u2, {480, 640}));  // the right one passes
  });
  EXPECT_TRUE(exited_ok(other.wait()));
}

TEST(ChannelTest, SegmentIsOwnerOnlyAndListedAsAChannel) {
  const ScopedChannelName name;
  const shmkit::testing::ScopedUmask umask(0);
  auto channel = Channel::create(name, tick_options());
  const std::string segment = Channel::segment_name(name);
  EXPECT_EQ(shmkit::testing::segment_mode(segment), 0600U);
  const auto info = shmkit::inspect_segment(segment);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->is_shmkit);
  EXPECT_EQ(info->segment_kind(), shmkit::SegmentKind::channel);
  EXPECT_EQ(shmkit::to_string(info->segment_kind()), "channel");
  EXPECT_TRUE(info->creator_alive);
  const ScopedChannelName shared;
  ChannelOptions group = tick_options();
  group.mode = 0660;
  auto shared_channel = Channel::create(shared, group);
  EXPECT_EQ(shmkit::testing::segment_mode(Channel::segment_name(shared)), 0660U);
}

TEST(ChannelTest, BadNamesAndOptionsAreRefusedByName) {
  EXPECT_TRUE(throws_with<shmkit::NameError>([] { (void)Channel::create("bad/name", tick_options()); }, {"'/'"}));
  EXPECT_TRUE(throws_with<shmkit::NameError>([] { (void)Channel::open(".hidden"); }, {"channel"}));
  EXPECT_TRUE(
      throws_with<shmkit::NameError>([] { (void)Channel::create(std::string(195, 'a'), tick_options()); }, {"prefix"}));
  const ScopedChannelName name;
  EXPECT_TRUE(throws_with<shmkit::Error>([&] { (void)Channel::create(name, tick_options(2, 1)); }, {"slots"}));
  ChannelOptions many = tick_options();
  many.max_subscribers = 64;
  EXPECT_TRUE(throws_with<shmkit::Error>([&] { (void)Channel::create(name, many); }, {"max_subscribers", "63"}));
  EXPECT_TRUE(throws_with<shmkit::Error>([&] { (void)Channel::create(name, {.sample = SampleSpec::bytes_of(0)}); },
                                         {"sample.bytes"}));
  EXPECT_FALSE(shmkit::testing::segment_exists(Channel::segment_name(name))) << "bad options leave nothing behind";
  EXPECT_TRUE(throws_with<shmkit::NotFoundError>([&] { (void)Channel::open(name); }, {name.str(), "create"}));
}

TEST(ChannelTest, OnePublisherAtATime) {
  const ScopedChannelName name;
  auto channel = Channel::create(name, tick_options());
  auto pub = channel.publisher();
  Child second([&] {
    const auto claim = [&] { (void)Channel::open(name).publisher(); };
    require(throws_with<shmkit::ExistsError>(claim, {"publisher", std::to_string(::getppid())}),
            "a second publisher was accepted");
  });
  EXPECT_TRUE(exited_ok(second.wait()));
}

TEST(ChannelTest, CreatingAChannelThatALiveProcessUsesIsAnExistsError) {
  const ScopedChannelName name;
  auto channel = Channel::create(name, tick_options());
  EXPECT_TRUE(throws_with<shmkit::ExistsError>([&] { (void)Channel::create(name, tick_options()); },
                                               {name.str(), "Channel::open"}));
  auto same = Channel::open_or_create(name, tick_options());
  EXPECT_EQ(same.info().segment_bytes, channel.info().segment_bytes);
}

TEST(ChannelTest, DroppedLoanIsNeverSeen) {
  const ScopedChannelName name;
  auto pub = shmkit::Publisher<Tick>::create(name, tick_options());
  auto sub = shmkit::Subscriber<Tick>::connect(name);
  {
    auto loan = pub.loan();
    ASSERT_TRUE(loan);
    (*loan)->value = 99;
  }  // dropped unpublished
  EXPECT_FALSE(sub.receive().has_value());
  EXPECT_FALSE(sub.latest().has_value());
  ASSERT_TRUE(pub.send({1, ~std::uint64_t{1}}));
  auto sample = sub.receive();
  ASSERT_TRUE(sample);
  EXPECT_EQ((*sample)->value, 1U);
  EXPECT_EQ(pub.channel().info().free_slots, 7U);
}

}  // namespace
