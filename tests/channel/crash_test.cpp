// Crash behaviour with real SIGKILLs: subscribers killed while holding
// samples, a publisher killed mid-loan, re-creating a crashed channel, and
// many connects and disconnects that must not leak a slot.

#include <shmkit/channel/channel.hpp>
#include <shmkit/channel/typed.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/core/segment_scan.hpp>

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
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
using namespace std::chrono_literals;

constexpr std::size_t kFrameElements = 1024;

ChannelOptions frame_options(std::uint32_t slots) {
  ChannelOptions options;
  options.sample = SampleSpec::array(Dtype::u4, {kFrameElements});
  options.slots = slots;
  options.history = 1;
  options.max_subscribers = 8;
  return options;
}

// Every element of a frame equals its first: a half-written frame would not.
bool whole(const shmkit::Sample& sample) {
  const auto elements = sample.span<std::uint32_t>();
  return std::all_of(elements.begin(), elements.end(), [&](std::uint32_t v) { return v == elements[0]; });
}

void fill(const shmkit::Loan& loan, std::uint32_t value) {
  const auto elements = loan.span<std::uint32_t>();
  std::fill(elements.begin(), elements.end(), value);
}

// Subscribes, then receives forever, holding up to `max_held` samples at
// a time and releasing them in random order, until it is killed.
void hold_and_release_forever(const std::string& name, unsigned seed, std::size_t max_held, const Signal& ready) {
  auto sub = Channel::open(name).subscriber();
  std::mt19937 random(seed);
  std::deque<shmkit::Sample> held;
  bool told = false;
  for (;;) {
    if (auto sample = sub.receive(100ms)) {
      require(whole(*sample), "a torn frame was received");
      held.push_back(std::move(*sample));
    }
    if (!told && !held.empty()) {
      ready.notify();
      told = true;
    }
    while (held.size() > max_held || (!held.empty() && random() % 3 == 0)) {
      held.erase(held.begin() + static_cast<long>(random() % held.size()));
    }
  }
}

TEST(ChannelCrashTest, SubscribersKilledWhileHoldingSamplesGiveEverySlotBack) {
  const ScopedChannelName name;
  constexpr std::uint32_t kSlots = 16;
  auto channel = Channel::create(name, frame_options(kSlots));
  auto pub = channel.publisher();
  std::mt19937 random(1234);
  for (int round = 0; round < 5; ++round) {
    std::vector<std::unique_ptr<Signal>> ready;
    std::vector<std::unique_ptr<Child>> children;
    for (int c = 0; c < 3; ++c) {
      ready.push_back(std::make_unique<Signal>());
      const Signal& signal = *ready.back();
      const unsigned seed = random();
      children.push_back(std::make_unique<Child>([&, seed] { hold_and_release_forever(name.str(), seed, 4, signal); }));
    }
    std::uint32_t value = 0;
    for (std::size_t c = 0; c < ready.size(); ++c) {
      // Publish until this child holds something (it may be mid-way
      // through anything when it dies below).
      while (!ready[c]->wait(0ms)) {
        if (auto loan = pub.loan(10ms)) {
          fill(*loan, ++value);
          pub.publish(std::move(*loan));
        }
      }
    }
    // Go on for a random while, so each dies at an arbitrary point.
    const auto extra = random() % 2000;
    for (std::uint32_t i = 0; i < extra; ++i) {
      if (auto loan = pub.loan()) {
        fill(*loan, ++value);
        pub.publish(std::move(*loan));
      }
    }
    for (auto& child : children) {
      EXPECT_EQ(child->kill_and_wait().signal, SIGKILL);
    }
    EXPECT_EQ(channel.reclaim_dead(), 3U);
    const auto info = channel.info();
    EXPECT_TRUE(info.subscribers.empty());
    EXPECT_EQ(info.free_slots, kSlots) << "round " << round << ": a dead subscriber's slot was not given back";
  }
  // Every slot can be loaned again at once (less the newest, kept as history).
  std::vector<shmkit::Loan> loans;
  while (auto loan = pub.loan()) {
    loans.push_back(std::move(*loan));
  }
  EXPECT_EQ(loans.size(), kSlots - 1);
}

TEST(ChannelCrashTest, PublisherFindsDeadHoldersItselfWhenItRunsOutOfSlots) {
  const ScopedChannelName name;
  constexpr std::uint32_t kSlots = 4;
  auto channel = Channel::create(name, frame_options(kSlots));
  auto pub = channel.publisher();
  const Signal holding;
  Child hoarder([&] {
    auto sub = Channel::open(name).subscriber();
    std::vector<shmkit::Sample> held;
    while (held.size() < kSlots - 1) {
      if (auto sample = sub.receive(10s)) {
        held.push_back(std::move(*sample));
      }
    }
    holding.notify();
    ::pause();
  });
  std::uint32_t value = 0;
  while (!holding.wait(0ms)) {
    if (auto loan = pub.loan(10ms)) {
      fill(*loan, ++value);
      pub.publish(std::move(*loan));
    }
  }
  // Fill whatever the hoarder left (its samples may or may not include the
  // newest), until 3 held + the newest leave nothing to loan.
  for (int i = 0; i < 4; ++i) {
    auto loan = pub.loan();
    if (!loan) {
      break;
    }
    fill(*loan, ++value);
    pub.publish(std::move(*loan));
  }
  ASSERT_FALSE(pub.loan().has_value()) << "3 held + the newest: no slot";
  EXPECT_EQ(hoarder.kill_and_wait().signal, SIGKILL);
  // No explicit reclaim: a waiting loan looks for dead holders.
  EXPECT_TRUE(pub.loan(30s).has_value());
}

TEST(ChannelCrashTest, PublisherKilledMidLoanNeverExposesAHalfWrittenSample) {
  const ScopedChannelName name;
  auto channel = Channel::create(name, frame_options(8));
  auto sub = channel.subscriber();
  const Signal half_written;
  Child writer([&] {
    auto pub = Channel::open(name).publisher();
    for (std::uint32_t i = 1; i <= 5; ++i) {
      auto loan = pub.loan();
      require(loan.has_value(), "no loan");
      fill(*loan, i);
      pub.publish(std::move(*loan));
    }
    auto loan = pub.loan();
    require(loan.has_value(), "no loan");
    const auto elements = loan->span<std::uint32_t>();
    std::fill(elements.begin(), elements.begin() + kFrameElements / 2, 6U);
    half_written.notify();
    ::pause();
  });
  ASSERT_TRUE(half_written.wait());
  EXPECT_EQ(writer.kill_and_wait().signal, SIGKILL);
  std::uint32_t expected = 1;
  while (auto sample = sub.receive()) {
    EXPECT_TRUE(whole(*sample));
    EXPECT_EQ(sample->span<std::uint32_t>()[0], expected++);
  }
  EXPECT_EQ(expected, 6U) << "exactly the 5 published frames";
  EXPECT_FALSE(sub.latest().has_value() && sub.latest()->sequence() > 5);
  // A new publisher takes over the dead one's role; the sequence goes on.
  auto pub = channel.publisher();
  EXPECT_EQ(channel.info().free_slots, 8U) << "the dead loan's slot came back (the sub holds none)";
  auto loan = pub.loan();
  ASSERT_TRUE(loan);
  fill(*loan, 7);
  EXPECT_EQ(pub.publish(std::move(*loan)), 6U);
  auto next = sub.receive();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->span<std::uint32_t>()[0], 7U);
}

TEST(ChannelCrashTest, PublisherKilledAtRandomPointsLeavesOnlyWholeSamples) {
  const ScopedChannelName name;
  auto channel = Channel::create(name, frame_options(8));
  std::mt19937 random(99);
  for (int round = 0; round < 5; ++round) {
    auto sub = channel.subscriber({.start = shmkit::SubscriberStart::now});
    const Signal started;
    Child writer([&] {
      auto pub = Channel::open(name).publisher();
      for (std::uint32_t i = 1;; ++i) {
        if (auto loan = pub.loan()) {
          fill(*loan, i);
          pub.publish(std::move(*loan));
        }
        if (i == 100) {
          started.notify();
        }
      }
    });
    ASSERT_TRUE(started.wait());
    std::uint64_t received = 0;
    const auto reads = random() % 500;
    for (std::uint32_t i = 0; i < reads; ++i) {
      if (auto sample = sub.receive()) {
        EXPECT_TRUE(whole(*sample));
        ++received;
      }
    }
    EXPECT_EQ(writer.kill_and_wait().signal, SIGKILL);
    while (auto sample = sub.receive()) {
      EXPECT_TRUE(whole(*sample));
    }
    EXPECT_GE(channel.reclaim_dead(), 1U);
    EXPECT_FALSE(channel.info().publisher.has_value());
  }
}

TEST(ChannelCrashTest, ReCreatingACrashedChannelNeedsNoCleanup) {
  const ScopedChannelName name;
  const Signal published;
  Child crashed([&] {
    auto channel = Channel::create(name, frame_options(8));
    auto pub = channel.publisher();
    auto sub = channel.subscriber();
    auto loan = pub.loan();
    require(loan.has_value(), "no loan");
    fill(*loan, 1);
    pub.publish(std::move(*loan));
    auto held = sub.receive();
    auto half = pub.loan();
    published.notify();
    ::pause();
  });
  ASSERT_TRUE(published.wait());
  EXPECT_EQ(crashed.kill_and_wait().signal, SIGKILL);

  // `shmkit ls` sees a channel whose creator is dead; gc would remove it.
  const auto leftover = shmkit::inspect_segment(Channel::segment_name(name));
  ASSERT_TRUE(leftover);
  EXPECT_EQ(leftover->segment_kind(), shmkit::SegmentKind::channel);
  EXPECT_FALSE(leftover->creator_alive);

  // Re-created with other options, no manual step.
  ChannelOptions options;
  options.sample = SampleSpec::value<std::uint64_t>();
  auto channel = Channel::create(name, options);
  const auto info = channel.info();
  EXPECT_EQ(info.published, 0U);
  EXPECT_TRUE(info.subscribers.empty());
  EXPECT_EQ(info.sample.bytes, 8U);
  auto pub = shmkit::Publisher<std::uint64_t>::attach(channel);
  EXPECT_EQ(pub.send(5).value_or(0), 1U);
}

TEST(ChannelCrashTest, ALiveSubscriberKeepsACrashedPublishersChannel) {
  const ScopedChannelName name;
  const Signal created;
  Child creator([&] {
    auto channel = Channel::create(name, frame_options(8));
    auto pub = channel.publisher();
    created.notify();
    ::pause();
  });
  ASSERT_TRUE(created.wait());
  auto sub = Channel::open(name).subscriber();
  EXPECT_EQ(creator.kill_and_wait().signal, SIGKILL);
  EXPECT_THROW((void)Channel::create(name, frame_options(8)), shmkit::ExistsError);
  // ... but a new publisher may take over on the same channel.
  auto pub = sub.channel().publisher();
  EXPECT_TRUE(pub.loan().has_value());
}

TEST(ChannelCrashTest, TwoHundredRandomConnectsAndDisconnectsLeakNoSlot) {
  const ScopedChannelName name;
  constexpr std::uint32_t kSlots = 8;
  auto channel = Channel::create(name, frame_options(kSlots));
  auto pub = channel.publisher();
  std::mt19937 random(7);
  std::uint32_t value = 0;
  auto publish_some = [&](unsigned count) {
    for (unsigned i = 0; i < count; ++i) {
      // Never more than 4 samples are held by live subscribers here, so a
      // loan refused for 30 s (while dead holders are reclaimed) means a
      // leaked slot.
      auto loan = pub.loan(30s);
      ASSERT_TRUE(loan.has_value()) << "no slot after " << value << " samples: one leaked";
      fill(*loan, ++value);
      pub.publish(std::move(*loan));
    }
  };
  std::optional<shmkit::DynamicSubscriber> local;
  std::vector<shmkit::Sample> local_held;
  for (int cycle = 0; cycle < 200; ++cycle) {
    const unsigned action = random() % 4;
    const unsigned hold = random() % 3 + 1;
    if (action == 0) {
      // In this process: connect, or disconnect (releasing what it holds).
      if (local) {
        local_held.clear();
        local.reset();
      } else {
        local.emplace(channel.subscriber());
      }
    } else {
      // In a child that holds `hold` samples, then exits cleanly
      // (action 1) or is killed holding them (actions 2, 3).
      const Signal holding;
      const Signal leave;
      Child child([&] {
        auto sub = Channel::open(name).subscriber();
        std::vector<shmkit::Sample> held;
        while (held.size() < hold) {
          auto sample = sub.receive(10s);
          require(sample.has_value(), "no sample in 10 s: pending " + std::to_string(sub.pending()) + ", missed " +
                                          std::to_string(sub.missed()) + ", received " +
                                          std::to_string(sub.received()));
          require(whole(*sample), "torn");
          held.push_back(std::move(*sample));
        }
        holding.notify();
        require(leave.wait(), "never told to leave");
      });
      // Publish until the child holds its samples (bounded: a child that
      // failed never signals).
      for (int i = 0; !holding.wait(1ms); ++i) {
        ASSERT_LT(i, 20000) << "cycle " << cycle << ": the child never got its samples";
        publish_some(1);
        if (::testing::Test::HasFatalFailure()) {
          return;
        }
      }
      if (action == 1) {
        leave.notify();
        EXPECT_TRUE(exited_ok(child.wait()));
      } else {
        EXPECT_EQ(child.kill_and_wait().signal, SIGKILL);
      }
    }
    if (local) {
      local_held.clear();
      if (auto sample = local->receive()) {
        local_held.push_back(std::move(*sample));
      }
    }
    publish_some(random() % 4);
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
  }
  local_held.clear();
  local.reset();
  channel.reclaim_dead();
  const auto info = channel.info();
  EXPECT_TRUE(info.subscribers.empty());
  EXPECT_EQ(info.free_slots, kSlots);
  EXPECT_GT(info.reclaimed, 0U);
}

}  // namespace
