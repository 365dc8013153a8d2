#include <shmkit/core/process.hpp>

#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>

#include "test_support.hpp"

namespace {

using shmkit::ProcessIdentity;
using shmkit::testing::Child;
using shmkit::testing::exited_ok;

TEST(ProcessTest, CurrentProcessHasOwnPidAndStartTicks) {
  const ProcessIdentity self = shmkit::current_process();
  EXPECT_EQ(self.pid, ::getpid());
  EXPECT_GT(self.start_ticks, 0U);
  ASSERT_TRUE(shmkit::process_start_ticks(::getpid()).has_value());
  EXPECT_EQ(self.start_ticks, *shmkit::process_start_ticks(::getpid()));
}

TEST(ProcessTest, CachedPidFollowsFork) {
  EXPECT_EQ(shmkit::current_pid(), ::getpid());  // cached from here on
  Child child([] {
    shmkit::testing::require(shmkit::current_pid() == ::getpid(), "a forked child sees its parent's pid");
    Child grandchild(
        [] { shmkit::testing::require(shmkit::current_pid() == ::getpid(), "a grandchild sees its parent's pid"); });
    shmkit::testing::require(grandchild.wait().exit_code == 0, "grandchild failed");
  });
  EXPECT_TRUE(exited_ok(child.wait()));
  EXPECT_EQ(shmkit::current_pid(), ::getpid());
}

TEST(ProcessTest, SelfIsAlive) {
  EXPECT_TRUE(shmkit::is_alive(shmkit::current_process()));
}

TEST(ProcessTest, ChildHasItsOwnIdentity) {
  Child child([] { pause(); });
  const auto ticks = shmkit::process_start_ticks(child.pid());
  ASSERT_TRUE(ticks.has_value());
  // A child cannot start before its parent.
  EXPECT_GE(*ticks, shmkit::current_process().start_ticks);
  EXPECT_TRUE(shmkit::is_alive({child.pid(), *ticks}));
  child.kill_and_wait();
}

TEST(ProcessTest, ReapedChildIsDead) {
  Child child([] {});
  const pid_t pid = child.pid();
  ASSERT_TRUE(shmkit::testing::wait_until_exited_unreaped(pid));
  EXPECT_TRUE(exited_ok(child.wait(std::chrono::seconds(10))));
  EXPECT_FALSE(shmkit::is_alive({pid, 0}));
  EXPECT_FALSE(shmkit::process_start_ticks(pid).has_value());
}

TEST(ProcessTest, ZombieCountsAsDead) {
  Child child([] {});
  const pid_t pid = child.pid();
  const auto ticks = shmkit::process_start_ticks(pid);
  ASSERT_TRUE(shmkit::testing::wait_until_exited_unreaped(pid));
  // Still in /proc as a zombie, yet dead for every purpose shmkit has.
  if (ticks) {
    EXPECT_FALSE(shmkit::is_alive({pid, *ticks}));
  }
  EXPECT_FALSE(shmkit::is_alive({pid, 0}));
  EXPECT_TRUE(exited_ok(child.wait(std::chrono::seconds(10))));
}

TEST(ProcessTest, RecycledPidWithOtherStartTimeIsDead) {
  const ProcessIdentity self = shmkit::current_process();
  EXPECT_FALSE(shmkit::is_alive({self.pid, self.start_ticks + 1}));
  EXPECT_FALSE(shmkit::is_alive({self.pid, self.start_ticks - 1}));
}

TEST(ProcessTest, NonPositivePidsAreDead) {
  EXPECT_FALSE(shmkit::is_alive({0, 0}));
  EXPECT_FALSE(shmkit::is_alive({-1, 0}));
  EXPECT_FALSE(shmkit::process_start_ticks(-1).has_value());
}

}  // namespace
