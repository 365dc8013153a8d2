#include <shmkit/array/dynamic_array.hpp>
#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>

#include <unistd.h>

#include <gtest/gtest.h>

#include <xtensor/xview.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using shmkit::Index;
using shmkit::Locking;
using shmkit::LockState;
using shmkit::SharedArray;
using shmkit::testing::Child;
using shmkit::testing::exited_ok;
using shmkit::testing::require;
using shmkit::testing::ScopedName;
using shmkit::testing::segment_exists;
using shmkit::testing::segment_mode;
using shmkit::testing::Signal;
using shmkit::testing::throws_with;
using namespace std::chrono_literals;

TEST(SharedArrayTest, CreateWriteOpenRead) {
  const ScopedName name;
  auto created = SharedArray<float>::create(name, {3, 4}, {.fill = 1.5F});
  EXPECT_EQ(created.size(), 12U);
  EXPECT_EQ(created.read({2, 3}), 1.5F);
  created.write({1, 2}, 7.0F);

  auto opened = SharedArray<float>::open(name);
  EXPECT_EQ(opened.read({1, 2}), 7.0F);
  EXPECT_EQ(opened.view()(1, 2), 7.0F);
  xt::view(opened.view(), 0, xt::all()) = 2.0F;
  EXPECT_EQ(created.read({0, 3}), 2.0F);
}

TEST(SharedArrayTest, DynamicArrayReportsDtypeAndShape) {
  const ScopedName name;
  auto created = SharedArray<std::uint16_t>::create(name, {2, 5, 3});
  auto dynamic = shmkit::DynamicArray::open(name);
  EXPECT_EQ(dynamic.dtype(), shmkit::Dtype::u2);
  EXPECT_EQ(std::vector<std::size_t>(dynamic.shape().begin(), dynamic.shape().end()),
            (std::vector<std::size_t>{2, 5, 3}));
  const std::size_t total = dynamic.visit([](auto typed) { return typed.size(); });
  EXPECT_EQ(total, 30U);
}

// --- errors when opening and creating -------------------------------------

TEST(SharedArrayTest, OpenRejectsDtypeMismatch) {
  const ScopedName name;
  auto created = SharedArray<std::int32_t>::create(name, {8});
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)SharedArray<float>::open(name); },
                                               {"cannot open", name.str(), "<i4", "<f4"}));
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)SharedArray<std::uint32_t>::open(name); },
                                               {name.str(), "<i4", "<u4"}));
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)SharedArray<bool>::open(name); }, {"<i4", "|b1"}));
}

TEST(SharedArrayTest, OpenRejectsShapeMismatch) {
  const ScopedName name;
  auto created = SharedArray<double>::create(name, {4, 6});
  const std::vector<std::size_t> transposed{6, 4};
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)SharedArray<double>::open(name, transposed); },
                                               {"cannot open", name.str(), "(6, 4)", "(4, 6)"}));
  const std::vector<std::size_t> flat{24};
  EXPECT_TRUE(
      throws_with<shmkit::LayoutError>([&] { (void)SharedArray<double>::open(name, flat); }, {"(24,)", "(4, 6)"}));
  const std::vector<std::size_t> more{4, 6, 1};
  EXPECT_TRUE(
      throws_with<shmkit::LayoutError>([&] { (void)SharedArray<double>::open(name, more); }, {"(4, 6, 1)", "(4, 6)"}));
  const std::vector<std::size_t> right{4, 6};
  EXPECT_NO_THROW((void)SharedArray<double>::open(name, right));
}

TEST(SharedArrayTest, InvalidNamesAreNameErrors) {
  const std::vector<std::string> bad{
      "", ".hidden", "..", "cam/frames", "with space", "tab\there", std::string(201, 'n')};
  for (const std::string& name : bad) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(throws_with<shmkit::NameError>([&] { (void)SharedArray<float>::create(name, {2}); },
                                               {"invalid shared array name"}));
    EXPECT_TRUE(throws_with<shmkit::NameError>([&] { (void)SharedArray<float>::open(name); }, {"shared array"}));
    EXPECT_TRUE(
        throws_with<shmkit::NameError>([&] { (void)SharedArray<float>::open_or_create(name, {2}); }, {"shared array"}));
    EXPECT_TRUE(throws_with<shmkit::NameError>([&] { (void)SharedArray<float>::remove(name); }, {"shared array"}));
    EXPECT_TRUE(throws_with<shmkit::NameError>([&] { (void)shmkit::DynamicArray::open(name); }, {"shared array"}));
  }
  EXPECT_TRUE(throws_with<shmkit::NameError>([] { (void)SharedArray<float>::create("cam/frames", {2}); },
                                             {"'/'", "position 3"}));
}

TEST(SharedArrayTest, CreateRejectsATakenName) {
  const ScopedName name;
  auto first = SharedArray<float>::create(name, {2, 2}, {.fill = 3.0F});
  EXPECT_TRUE(throws_with<shmkit::ExistsError>(
      [&] {
        (void)SharedArray<float>::create(name, {2, 2});
      },
      {"cannot create", name.str(), "already exists"}));
  // Also when the new request would not even match.
  EXPECT_TRUE(
      throws_with<shmkit::ExistsError>([&] { (void)SharedArray<std::int8_t>::create(name, {9}); }, {"already exists"}));
  EXPECT_EQ(first.read({1, 1}), 3.0F);  // untouched
}

TEST(SharedArrayTest, OpenOfMissingNameIsNotFound) {
  const ScopedName name;
  EXPECT_TRUE(throws_with<shmkit::NotFoundError>([&] { (void)SharedArray<float>::open(name); },
                                                 {"cannot open shared array", name.str(), "no such segment"}));
  EXPECT_FALSE(segment_exists(name));
}

TEST(SharedArrayTest, TooManyDimensionsIsALayoutError) {
  const ScopedName name;
  const std::vector<std::size_t> shape(shmkit::kMaxDims + 1, 1);
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)SharedArray<float>::create(name, shape); },
                                               {name.str(), "17 dimensions", "at most 16"}));
  EXPECT_FALSE(segment_exists(name));
  const std::vector<std::size_t> most(shmkit::kMaxDims, 1);
  auto array = SharedArray<float>::create(name, most);
  EXPECT_EQ(array.ndim(), shmkit::kMaxDims);
  EXPECT_EQ(SharedArray<float>::open(name).ndim(), shmkit::kMaxDims);
}

TEST(SharedArrayTest, UnaddressableShapeIsALayoutError) {
  const ScopedName name;
  EXPECT_TRUE(throws_with<shmkit::LayoutError>(
      [&] {
        (void)SharedArray<double>::create(name, {std::size_t{1} << 40, std::size_t{1} << 30});
      },
      {name.str(), "too large"}));
  EXPECT_TRUE(throws_with<shmkit::LayoutError>(
      [&] { (void)SharedArray<std::uint8_t>::create(name, {std::size_t{1} << 47}); }, {"too large"}));
  EXPECT_FALSE(segment_exists(name));
}

TEST(SharedArrayTest, ZeroDimensionalArrayHoldsOneElement) {
  const ScopedName name;
  auto array = SharedArray<double>::create(name, std::span<const std::size_t>(), {.fill = 2.5});
  EXPECT_EQ(array.ndim(), 0U);
  EXPECT_EQ(array.size(), 1U);
  EXPECT_EQ(array.read(std::vector<std::size_t>{}), 2.5);
  auto opened = SharedArray<double>::open(name);
  EXPECT_EQ(opened.size(), 1U);
  EXPECT_EQ(opened[0], 2.5);
}

TEST(SharedArrayTest, EmptyArrayHasNoElements) {
  const ScopedName name;
  auto array = SharedArray<std::int16_t>::create(name, {0, 5});
  EXPECT_EQ(array.size(), 0U);
  EXPECT_EQ(array.nbytes(), 0U);
  auto opened = SharedArray<std::int16_t>::open(name);
  EXPECT_EQ(opened.size(), 0U);
  EXPECT_EQ(opened.snapshot().size(), 0U);
  try {
    (void)opened.read({0, 0});
    ADD_FAILURE() << "read of an empty array succeeded";
  } catch (const shmkit::IndexError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("axis 0"), std::string::npos) << message;
    // An empty axis has no valid index; "valid: 0..0" would send the user to
    // an index that fails the same way.
    EXPECT_EQ(message.find("0..0"), std::string::npos) << message;
  }
}

// --- index errors -----------------------------------------------------------

TEST(SharedArrayTest, OutOfRangeIndexNamesTheAxis) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {3, 4, 5});
  EXPECT_TRUE(throws_with<shmkit::IndexError>(
      [&] {
        (void)array.read({3, 0, 0});
      },
      {"index 3", "out of range", "axis 0", name.str(), "(3, 4, 5)", "0..2"}));
  EXPECT_TRUE(throws_with<shmkit::IndexError>(
      [&] {
        (void)array.read({0, 4, 0}, Locking::locked);
      },
      {"index 4", "axis 1", "0..3"}));
  EXPECT_TRUE(throws_with<shmkit::IndexError>([&] { array.write({0, 0, 5}, 1); }, {"index 5", "axis 2", "0..4"}));
  EXPECT_TRUE(throws_with<shmkit::IndexError>([&] { array.write({2, 9, 0}, 1, Locking::locked); }, {"axis 1"}));
  EXPECT_TRUE(throws_with<shmkit::IndexError>([&] { (void)array.atomic(Index{0, 0, 99}); }, {"index 99", "axis 2"}));
  EXPECT_TRUE(throws_with<shmkit::IndexError>([&] { (void)array.flat_index({7, 0, 0}); }, {"axis 0"}));
  // A failed locked access leaves the lock free.
  EXPECT_TRUE(array.try_lock_for(0ns).has_value());
}

TEST(SharedArrayTest, WrongNumberOfCoordinatesIsAnIndexError) {
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {3, 4});
  EXPECT_TRUE(throws_with<shmkit::IndexError>([&] { (void)array.read({1}); },
                                              {"1 coordinates", "2 dimensions", name.str(), "(3, 4)"}));
  EXPECT_TRUE(throws_with<shmkit::IndexError>([&] { array.write({1, 2, 0}, 1.0F); }, {"3 coordinates"}));
  EXPECT_TRUE(throws_with<shmkit::IndexError>([&] { (void)array.atomic(Index{1, 2, 3, 4}); }, {"4 coordinates"}));
  const std::vector<std::size_t> too_many(shmkit::kMaxDims + 3, 0);
  EXPECT_TRUE(throws_with<shmkit::IndexError>([&] { (void)array.read(too_many); }, {"19 coordinates"}));
  EXPECT_TRUE(
      throws_with<shmkit::IndexError>([&] { (void)array.read(std::vector<std::size_t>{}); }, {"0 coordinates"}));
}

TEST(SharedArrayTest, OutOfRangeSliceIsAnIndexError) {
  const ScopedName name;
  auto array = SharedArray<std::uint8_t>::create(name, {3, 4});
  std::vector<std::uint8_t> buffer(5);
  EXPECT_TRUE(throws_with<shmkit::IndexError>([&] { array.read_slice(8, std::span(buffer)); },
                                              {"[8, 13)", "out of range", name.str(), "12 elements"}));
  EXPECT_TRUE(throws_with<shmkit::IndexError>([&] { array.read_slice(8, std::span(buffer), Locking::locked); },
                                              {"out of range"}));
  EXPECT_TRUE(throws_with<shmkit::IndexError>(
      [&] { array.write_slice(13, std::span<const std::uint8_t>(buffer.data(), 0)); }, {"[13, 13)"}));
  EXPECT_TRUE(throws_with<shmkit::IndexError>(
      [&] { array.write_slice(std::size_t{1} << 63, std::span<const std::uint8_t>(buffer)); }, {"out of range"}));
  EXPECT_TRUE(throws_with<shmkit::IndexError>(
      [&] { array.write_slice(10, std::span<const std::uint8_t>(buffer), Locking::locked); }, {"out of range"}));
  EXPECT_NO_THROW(array.write_slice(7, std::span<const std::uint8_t>(buffer)));  // ends exactly at the end
  EXPECT_TRUE(array.try_lock_for(0ns).has_value());
}

// --- unlink_on_close ------------------------------------------------------

TEST(SharedArrayTest, UnlinkOnCloseRemovesTheNameWithTheCreatorHandle) {
  const ScopedName name;
  const Signal opened;
  const Signal creator_gone;
  auto creator = std::optional(SharedArray<std::int32_t>::create(name, {4}, {.unlink_on_close = true}));
  EXPECT_TRUE(creator->info().unlink_on_creator_close);
  creator->write({2}, 42);
  Child reader([&] {
    auto array = SharedArray<std::int32_t>::open(name);
    opened.notify();
    require(creator_gone.wait(), "the parent never dropped the creator");
    // The name is gone, but this process's mapping stays valid.
    require(array.read({2}) == 42, "the mapping lost its data");
    array.write({3}, 7);
    try {
      (void)SharedArray<std::int32_t>::open(name);
    } catch (const shmkit::NotFoundError&) {
      return;
    }
    throw std::runtime_error("the name survived its creator handle");
  });
  ASSERT_TRUE(opened.wait());
  auto other = SharedArray<std::int32_t>::open(name);
  { auto another = SharedArray<std::int32_t>::open(name); }
  EXPECT_TRUE(segment_exists(name)) << "a non-creator handle removed the name";
  creator.reset();
  EXPECT_FALSE(segment_exists(name));
  creator_gone.notify();
  EXPECT_TRUE(exited_ok(reader.wait(30s)));
  EXPECT_EQ(other.read({3}), 7);
}

TEST(SharedArrayTest, UnlinkOnCloseIgnoresNonCreatorProcesses) {
  const ScopedName name;
  auto creator = SharedArray<std::int32_t>::create(name, {4}, {.unlink_on_close = true});
  Child child([&] {
    auto array = SharedArray<std::int32_t>::open(name);
    array.write({0}, 5);
  });  // the child's handle is destroyed when the body returns
  ASSERT_TRUE(exited_ok(child.wait(30s)));
  EXPECT_TRUE(segment_exists(name));
  EXPECT_EQ(creator.read({0}), 5);
  // Nor does a handle that found the array through exist_ok.
  { auto found = SharedArray<std::int32_t>::create(name, {4}, {.exist_ok = true, .unlink_on_close = true}); }
  EXPECT_TRUE(segment_exists(name));
}

TEST(SharedArrayTest, UnlinkOnCloseFollowsMovesAndSparesAReplacement) {
  const ScopedName name;
  auto creator = std::optional(SharedArray<float>::create(name, {2}, {.unlink_on_close = true}));
  {
    SharedArray<float> moved = std::move(*creator);
    creator.reset();  // the moved-from handle no longer owns the name
    EXPECT_TRUE(segment_exists(name));
    // Someone removes the name and makes a new array under it.
    EXPECT_TRUE(SharedArray<float>::remove(name));
    auto replacement = SharedArray<float>::create(name, {2}, {.fill = 9.0F});
    EXPECT_FALSE(moved.destroy()) << "destroy() removed an array it does not own";
  }  // `moved` dies: the name now belongs to the replacement and must stay
  ASSERT_TRUE(segment_exists(name));
  EXPECT_EQ(SharedArray<float>::open(name).read({1}), 9.0F);
}

TEST(SharedArrayTest, ForkedChildDoesNotUnlinkTheParentsArray) {
  // The documented caveat: an inherited handle would unlink too, but a
  // child that leaves through _exit (as Child does) runs no destructors.
  const ScopedName name;
  auto creator = SharedArray<std::int32_t>::create(name, {1}, {.unlink_on_close = true});
  Child child([&] { creator.write({0}, 3); });
  ASSERT_TRUE(exited_ok(child.wait(30s)));
  EXPECT_TRUE(segment_exists(name));
  EXPECT_EQ(creator[0], 3);
}

// --- permissions ------------------------------------------------------------

TEST(SharedArrayTest, DefaultModeIsOwnerOnly) {
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {4});
  EXPECT_EQ(segment_mode(name), 0600U);
}

TEST(SharedArrayTest, GroupModeIsExactEvenUnderAUmask) {
  const shmkit::testing::ScopedUmask umask(022);
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {4}, {.mode = 0660});
  EXPECT_EQ(segment_mode(name), 0660U);
  const ScopedName other;
  auto via_open_or_create = SharedArray<float>::open_or_create(other, {4}, {.mode = 0660});
  EXPECT_EQ(segment_mode(other), 0660U);
}

// --- info and locking -----------------------------------------------------

TEST(SharedArrayTest, InfoDescribesTheArray) {
  const ScopedName name;
  const auto before = std::chrono::system_clock::now();
  auto array = SharedArray<std::uint16_t>::create(name, {3, 5000});
  const shmkit::ArrayInfo info = SharedArray<std::uint16_t>::open(name).info();
  EXPECT_EQ(info.name, name.str());
  EXPECT_EQ(info.dtype, shmkit::Dtype::u2);
  EXPECT_EQ(info.shape, (std::vector<std::size_t>{3, 5000}));
  EXPECT_EQ(info.data_bytes, 30000U);
  EXPECT_EQ(info.segment_bytes, shmkit::detail::round_up(30000, 4096) + 4096);
  EXPECT_EQ(info.creator.pid, ::getpid());
  EXPECT_EQ(info.creator.start_ticks, shmkit::current_process().start_ticks);
  EXPECT_TRUE(shmkit::is_alive(info.creator));
  const auto created = std::chrono::system_clock::time_point(std::chrono::nanoseconds(info.created_unix_ns));
  EXPECT_GE(created, before - 1s);
  EXPECT_LE(created, std::chrono::system_clock::now() + 1s);
  EXPECT_FALSE(info.unlink_on_creator_close);
}

TEST(SharedArrayTest, WithLockPassesTheViewAndOptionallyTheState) {
  const ScopedName name;
  auto array = SharedArray<std::int64_t>::create(name, {2, 2});
  const std::int64_t sum = array.with_lock([](auto& view) {
    view(1, 1) = 5;
    view(0, 1) = 2;
    return view(1, 1) + view(0, 1);
  });
  EXPECT_EQ(sum, 7);
  const LockState state = array.with_lock([](auto& view, LockState s) {
    view(0, 0) = 1;
    return s;
  });
  EXPECT_EQ(state, LockState::acquired);
  EXPECT_EQ(array.read({0, 0}), 1);
  EXPECT_EQ(array.read({1, 1}), 5);
}

TEST(SharedArrayTest, LockExcludesOtherProcesses) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {4});
  const Signal locked;
  const Signal release;
  Child holder([&] {
    auto mine = SharedArray<std::int32_t>::open(name);
    auto guard = mine.lock();
    require(!guard.recovered(), "nobody died holding this lock");
    mine[0] = 1;
    locked.notify();
    require(release.wait(), "never released");
  });
  ASSERT_TRUE(locked.wait());
  EXPECT_FALSE(array.try_lock_for(10ms).has_value());
  std::vector<std::int32_t> out(4);
  EXPECT_FALSE(array.try_snapshot(std::span(out)));  // a lock holder is a writer
  release.notify();
  EXPECT_TRUE(exited_ok(holder.wait(30s)));
  auto guard = array.try_lock_for(5s);
  ASSERT_TRUE(guard.has_value());
  EXPECT_FALSE(guard->recovered());
  EXPECT_EQ(guard->state(), LockState::acquired);
  EXPECT_EQ(array[0], 1);
}

TEST(SharedArrayTest, TrySnapshotNeedsAMatchingSpan) {
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {2, 3}, {.fill = 1.0F});
  std::vector<float> small(5);
  EXPECT_FALSE(array.try_snapshot(std::span(small)));
  std::vector<float> exact(6);
  EXPECT_TRUE(array.try_snapshot(std::span(exact)));
  EXPECT_EQ(exact, std::vector<float>(6, 1.0F));
}

TEST(SharedArrayTest, SnapshotTimesOutWhileALockIsHeld) {
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {8});
  {
    const auto guard = array.lock();
    EXPECT_TRUE(throws_with<shmkit::TimeoutError>([&] { (void)array.snapshot(20ms); }, {name.str(), "20 ms"}));
  }
  EXPECT_EQ(array.snapshot(20ms).size(), 8U);
}

// A locked operation while this process already holds the lock must fail
// loudly (EDEADLK -> Error), as robust_mutex.hpp promises, not hang. Run in
// a child so a hang fails the test instead of stalling the suite.
TEST(SharedArrayTest, LockedAccessWhileHoldingTheLockThrows) {
  const ScopedName name;
  auto array = SharedArray<std::int32_t>::create(name, {4});
  Child child([&] {
    auto guard = array.lock();
    bool threw = false;
    try {
      (void)array.try_lock_for(10ms);
    } catch (const shmkit::Error&) {
      threw = true;
    }
    require(threw, "try_lock_for by the holder timed out instead of reporting a deadlock");
    try {
      array.write({0}, 1, Locking::locked);
    } catch (const shmkit::Error& e) {
      const std::string what = e.what();
      require(what.find("deadlock") != std::string::npos, what);
      require(what.find("'" + name.str() + "'") != std::string::npos, "the error does not name the array: " + what);
      require(what.find("release it") != std::string::npos, "the error does not say what to do: " + what);
      return;
    }
    throw std::runtime_error("a nested locked write succeeded");
  });
  EXPECT_TRUE(exited_ok(child.wait(5s)));
}

}  // namespace
