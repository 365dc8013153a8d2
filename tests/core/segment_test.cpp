#include <shmkit/core/error.hpp>
#include <shmkit/core/process.hpp>
#include <shmkit/core/segment.hpp>

#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using shmkit::detail::SharedSegment;
using shmkit::testing::ScopedName;
using shmkit::testing::ScopedUmask;
using shmkit::testing::segment_exists;
using shmkit::testing::segment_mode;
using shmkit::testing::throws_with;

constexpr std::string_view kWhat = "test segment";

TEST(SegmentTest, MagicIsTheBytesShmkitNulNul) {
  unsigned char bytes[8];
  std::memcpy(bytes, &shmkit::kSegmentMagic, sizeof bytes);
  EXPECT_EQ(std::memcmp(bytes, "SHMKIT\0\0", 8), 0);
}

TEST(SegmentTest, CreateMapsZeroedMemoryOfTheRequestedSize) {
  const ScopedName name;
  const auto segment = SharedSegment::create(name, 3 * 4096, shmkit::kDefaultMode, kWhat);
  EXPECT_EQ(segment.size(), 3U * 4096);
  EXPECT_EQ(segment.name(), name.str());
  EXPECT_GE(segment.fd(), 0);
  ASSERT_NE(segment.data(), nullptr);
  for (std::size_t i = 0; i < segment.size(); i += 512) {
    ASSERT_EQ(segment.data()[i], std::byte{0}) << i;
  }
  EXPECT_TRUE(segment_exists(name));
}

TEST(SegmentTest, OpenSeesTheCreatorsBytes) {
  const ScopedName name;
  const auto created = SharedSegment::create(name, 8192, shmkit::kDefaultMode, kWhat);
  created.data()[100] = std::byte{42};
  const auto opened = SharedSegment::open(name, kWhat);
  EXPECT_EQ(opened.size(), 8192U);
  EXPECT_EQ(opened.data()[100], std::byte{42});
  opened.data()[8191] = std::byte{7};
  EXPECT_EQ(created.data()[8191], std::byte{7});
}

TEST(SegmentTest, DuplicateOutlivesTheName) {
  const ScopedName name;
  const auto created = SharedSegment::create(name, 4096, shmkit::kDefaultMode, kWhat);
  ASSERT_TRUE(SharedSegment::unlink(name, kWhat));
  const auto copy = created.duplicate();
  EXPECT_NE(copy.fd(), created.fd());
  EXPECT_NE(copy.data(), created.data());
  created.data()[1] = std::byte{9};
  EXPECT_EQ(copy.data()[1], std::byte{9});
}

TEST(SegmentTest, MoveLeavesAnEmptyHandle) {
  const ScopedName name;
  auto first = SharedSegment::create(name, 4096, shmkit::kDefaultMode, kWhat);
  std::byte* const data = first.data();
  SharedSegment second = std::move(first);
  EXPECT_EQ(second.data(), data);
  EXPECT_EQ(first.data(), nullptr);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(first.fd(), -1);         // NOLINT(bugprone-use-after-move)
  const ScopedName other_name;
  second = SharedSegment::create(other_name, 4096, shmkit::kDefaultMode, kWhat);
  EXPECT_EQ(second.name(), other_name.str());
}

TEST(SegmentTest, UnlinkReportsWhetherTheNameExisted) {
  const ScopedName name;
  { (void)SharedSegment::create(name, 4096, shmkit::kDefaultMode, kWhat); }
  EXPECT_TRUE(segment_exists(name));  // handles never unlink
  EXPECT_TRUE(SharedSegment::unlink(name, kWhat));
  EXPECT_FALSE(segment_exists(name));
  EXPECT_FALSE(SharedSegment::unlink(name, kWhat));
}

TEST(SegmentTest, CreateRejectsATakenName) {
  const ScopedName name;
  const auto first = SharedSegment::create(name, 4096, shmkit::kDefaultMode, kWhat);
  EXPECT_TRUE(
      throws_with<shmkit::ExistsError>([&] { (void)SharedSegment::create(name, 4096, shmkit::kDefaultMode, kWhat); },
                                       {"cannot create", "test segment", name.str(), "already exists"}));
  try {
    (void)SharedSegment::create(name, 4096, shmkit::kDefaultMode, kWhat);
  } catch (const shmkit::ExistsError& e) {
    EXPECT_EQ(e.code().value(), EEXIST);
  }
}

TEST(SegmentTest, OpenOfMissingNameIsNotFound) {
  const ScopedName name;
  EXPECT_TRUE(throws_with<shmkit::NotFoundError>([&] { (void)SharedSegment::open(name, kWhat); },
                                                 {"cannot open", "test segment", name.str(), "no such segment"}));
  try {
    (void)SharedSegment::open(name, kWhat);
  } catch (const shmkit::NotFoundError& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
  }
}

TEST(SegmentTest, OpenOfEmptySegmentIsALayoutError) {
  const ScopedName name;
  shmkit::testing::make_raw_segment(name, 0);
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)SharedSegment::open(name, kWhat); },
                                               {name.str(), "empty", "0 bytes"}));
}

TEST(SegmentTest, InvalidNamesAreRejectedBeforeTouchingTheSystem) {
  for (const std::string& bad : std::vector<std::string>{"", ".hidden", "a/b", "with space", std::string(201, 'x')}) {
    EXPECT_THROW((void)SharedSegment::create(bad, 4096, shmkit::kDefaultMode, kWhat), shmkit::NameError) << bad;
    EXPECT_THROW((void)SharedSegment::open(bad, kWhat), shmkit::NameError) << bad;
    EXPECT_THROW((void)SharedSegment::unlink(bad, kWhat), shmkit::NameError) << bad;
  }
  EXPECT_TRUE(throws_with<shmkit::NameError>(
      [] { (void)SharedSegment::create("a/b", 4096, shmkit::kDefaultMode, kWhat); }, {"test segment", "'/'"}));
}

TEST(SegmentTest, DefaultModeIsOwnerOnly) {
  const ScopedName name;
  const auto segment = SharedSegment::create(name, 4096, shmkit::kDefaultMode, kWhat);
  EXPECT_EQ(segment_mode(name), 0600U);
}

TEST(SegmentTest, RequestedModeIgnoresTheUmask) {
  const ScopedUmask umask(022);
  const ScopedName group;
  const auto shared = SharedSegment::create(group, 4096, 0660, kWhat);
  EXPECT_EQ(segment_mode(group), 0660U);
  const ScopedName world;
  const auto everyone = SharedSegment::create(world, 4096, 0666, kWhat);
  EXPECT_EQ(segment_mode(world), 0666U);
}

TEST(SegmentTest, StampRecordsTheCreatorAndPublishSetsTheMagic) {
  alignas(shmkit::SegmentTag) std::byte storage[sizeof(shmkit::SegmentTag)];
  std::memset(storage, 0xab, sizeof storage);
  auto* tag = new (storage) shmkit::SegmentTag{};
  const auto before = std::chrono::system_clock::now();
  shmkit::stamp(*tag, shmkit::SegmentKind::logger, 7);
  EXPECT_EQ(tag->magic.load(), 0U);
  EXPECT_EQ(tag->kind, static_cast<std::uint32_t>(shmkit::SegmentKind::logger));
  EXPECT_EQ(tag->layout_version, 7U);
  EXPECT_EQ(tag->creator_pid, ::getpid());
  EXPECT_EQ(tag->creator_uid, ::getuid());
  const auto self = shmkit::current_process();
  EXPECT_EQ(tag->creator_start_ticks, self.start_ticks);
  const auto created = std::chrono::system_clock::time_point(std::chrono::nanoseconds(tag->created_unix_ns));
  EXPECT_GE(created, before - std::chrono::seconds(1));
  EXPECT_LE(created, std::chrono::system_clock::now() + std::chrono::seconds(1));
  const auto creator = shmkit::creator_of(*tag);
  EXPECT_EQ(creator.pid, self.pid);
  EXPECT_EQ(creator.start_ticks, self.start_ticks);
  EXPECT_TRUE(shmkit::is_alive(creator));
  shmkit::publish(*tag);
  EXPECT_EQ(std::memcmp(storage, "SHMKIT\0\0", 8), 0);
}

TEST(SegmentTest, KindNames) {
  EXPECT_EQ(shmkit::to_string(shmkit::SegmentKind::array), "array");
  EXPECT_EQ(shmkit::to_string(shmkit::SegmentKind::logger), "logger");
  EXPECT_EQ(shmkit::to_string(static_cast<shmkit::SegmentKind>(99)), "unknown");
}

TEST(SegmentTest, RoundUpAndPageSize) {
  EXPECT_EQ(shmkit::detail::page_size(), static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)));
  EXPECT_EQ(shmkit::detail::round_up(0, 4096), 0U);
  EXPECT_EQ(shmkit::detail::round_up(1, 4096), 4096U);
  EXPECT_EQ(shmkit::detail::round_up(4096, 4096), 4096U);
  EXPECT_EQ(shmkit::detail::round_up(4097, 4096), 8192U);
}

TEST(ErrorTest, ThrowErrnoPicksTheSubclass) {
  EXPECT_TRUE(throws_with<shmkit::NotFoundError>([] { shmkit::detail::throw_errno("cannot open thing", ENOENT); },
                                                 {"cannot open thing: ", std::strerror(ENOENT)}));
  EXPECT_TRUE(throws_with<shmkit::ExistsError>([] { shmkit::detail::throw_errno("cannot create thing", EEXIST); },
                                               {"cannot create thing"}));
  EXPECT_TRUE(
      throws_with<shmkit::Error>([] { shmkit::detail::throw_errno("cannot map thing", ENOMEM, "free some memory"); },
                                 {"cannot map thing: ", std::strerror(ENOMEM), "(free some memory)"}));
  try {
    shmkit::detail::throw_errno("x", EACCES);
  } catch (const shmkit::NotFoundError&) {
    ADD_FAILURE() << "EACCES is not NotFound";
  } catch (const shmkit::ExistsError&) {
    ADD_FAILURE() << "EACCES is not Exists";
  } catch (const shmkit::Error& e) {
    EXPECT_EQ(e.code(), std::error_code(EACCES, std::generic_category()));
  }
}

TEST(ErrorTest, SystemErrorCarriesErrno) {
  try {
    shmkit::detail::throw_system_error("cannot lock", EDEADLK);
    FAIL() << "expected a throw";
  } catch (const shmkit::Error& e) {
    EXPECT_EQ(e.code().value(), EDEADLK);
    EXPECT_EQ(std::string(e.what()), std::string("cannot lock: ") + std::strerror(EDEADLK));
  }
  const shmkit::LayoutError plain("no errno here");
  EXPECT_FALSE(plain.code());
}

}  // namespace
