// The byte layout other programs rely on (python/shmkit_array.py, shmkit ls),
// read from a real segment's raw bytes, and what opening a segment that is
// not a valid shmkit array does: a LayoutError, never a crash or a hang.

#include <shmkit/array/dynamic_array.hpp>
#include <shmkit/array/layout.hpp>
#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "element_test_values.hpp"
#include "test_support.hpp"

namespace {

using shmkit::DynamicArray;
using shmkit::SharedArray;
using shmkit::testing::RawMapping;
using shmkit::testing::sample;
using shmkit::testing::ScopedName;
using shmkit::testing::throws_with;

// Trailer offsets as a reader in another language sees them.
constexpr std::size_t kMagicAt = 0;
constexpr std::size_t kKindAt = 8;
constexpr std::size_t kVersionAt = 12;
constexpr std::size_t kPidAt = 16;
constexpr std::size_t kUidAt = 20;
constexpr std::size_t kStartTicksAt = 24;
constexpr std::size_t kCreatedAt = 32;
constexpr std::size_t kDtypeAt = 40;
constexpr std::size_t kItemSizeAt = 48;
constexpr std::size_t kNdimAt = 52;
constexpr std::size_t kDataBytesAt = 56;
constexpr std::size_t kShapeAt = 64;
constexpr std::size_t kFlagsAt = 192;

template <class V>
V read_at(const std::byte* base, std::size_t offset) {
  V value;
  std::memcpy(&value, base + offset, sizeof value);
  return value;
}

template <class V>
void write_at(std::byte* base, std::size_t offset, V value) {
  std::memcpy(base + offset, &value, sizeof value);
}

TEST(ArrayLayoutTest, TrailerOffsetsMatchThePythonContract) {
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {3, 5}, {.unlink_on_close = true});
  for (std::size_t i = 0; i < array.size(); ++i) {
    array[i] = static_cast<float>(i) * 1.5F;
  }
  const RawMapping raw(name);
  // Data first, in C order, at offset 0; the trailer in the last 4096 bytes.
  EXPECT_EQ(raw.size(), 4096U + 4096U);
  for (std::size_t i = 0; i < array.size(); ++i) {
    ASSERT_EQ(read_at<float>(raw.data(), i * sizeof(float)), static_cast<float>(i) * 1.5F) << i;
  }
  const std::byte* trailer = raw.data() + raw.size() - 4096;
  EXPECT_EQ(std::memcmp(trailer + kMagicAt, "SHMKIT\0\0", 8), 0);
  EXPECT_EQ(read_at<std::uint32_t>(trailer, kKindAt), 1U);  // array
  EXPECT_EQ(read_at<std::uint32_t>(trailer, kVersionAt), shmkit::kArrayLayoutVersion);
  EXPECT_EQ(read_at<std::int32_t>(trailer, kPidAt), ::getpid());
  EXPECT_EQ(read_at<std::uint32_t>(trailer, kUidAt), ::getuid());
  EXPECT_EQ(read_at<std::uint64_t>(trailer, kStartTicksAt), shmkit::current_process().start_ticks);
  EXPECT_EQ(read_at<std::int64_t>(trailer, kCreatedAt), array.info().created_unix_ns);
  EXPECT_EQ(std::memcmp(trailer + kDtypeAt, "<f4\0\0\0\0\0", 8), 0);
  EXPECT_EQ(read_at<std::uint32_t>(trailer, kItemSizeAt), 4U);
  EXPECT_EQ(read_at<std::uint32_t>(trailer, kNdimAt), 2U);
  EXPECT_EQ(read_at<std::uint64_t>(trailer, kDataBytesAt), 60U);
  EXPECT_EQ(read_at<std::uint64_t>(trailer, kShapeAt), 3U);
  EXPECT_EQ(read_at<std::uint64_t>(trailer, kShapeAt + 8), 5U);
  EXPECT_EQ(read_at<std::uint64_t>(trailer, kShapeAt + 16), 0U);
  EXPECT_EQ(read_at<std::uint32_t>(trailer, kFlagsAt), shmkit::kUnlinkOnCreatorClose);
}

TEST(ArrayLayoutTest, TrailerSitsRightAfterThePageAlignedData) {
  const ScopedName name;
  auto array = SharedArray<std::uint8_t>::create(name, {4097});
  const RawMapping raw(name);
  EXPECT_EQ(raw.size(), 8192U + 4096U);
  EXPECT_EQ(std::memcmp(raw.trailer(), "SHMKIT", 6), 0);
  EXPECT_EQ(read_at<std::uint64_t>(raw.trailer(), kShapeAt), 4097U);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(array.data()) % 4096, 0U);
}

template <class T>
class ArrayLayoutDtypeTest : public ::testing::Test {};
TYPED_TEST_SUITE(ArrayLayoutDtypeTest, shmkit::testing::AllElementTypes);

TYPED_TEST(ArrayLayoutDtypeTest, TrailerHoldsTheNumpyDtypeString) {
  using T = TypeParam;
  const ScopedName name;
  auto array = SharedArray<T>::create(name, {2, 3, 4, 5});
  array[119] = sample<T>(1);
  const RawMapping raw(name);
  const std::string_view expected = shmkit::dtype_string(shmkit::dtype_of<T>);
  const char* dtype = reinterpret_cast<const char*>(raw.trailer() + kDtypeAt);
  EXPECT_EQ(std::string(dtype, strnlen(dtype, 8)), expected);
  EXPECT_EQ(read_at<std::uint32_t>(raw.trailer(), kItemSizeAt), sizeof(T));
  EXPECT_EQ(read_at<std::uint32_t>(raw.trailer(), kNdimAt), 4U);
  EXPECT_EQ(read_at<std::uint64_t>(raw.trailer(), kDataBytesAt), 120 * sizeof(T));
  for (std::size_t axis = 0; axis < 4; ++axis) {
    EXPECT_EQ(read_at<std::uint64_t>(raw.trailer(), kShapeAt + 8 * axis), axis + 2);
  }
  EXPECT_EQ(read_at<T>(raw.data(), 119 * sizeof(T)), sample<T>(1));
}

// --- segments that are not valid arrays -----------------------------------

// Every way of opening `name` fails with a LayoutError carrying `keywords`.
void expect_layout_error_everywhere(const ScopedName& name, std::initializer_list<std::string_view> keywords) {
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)SharedArray<float>::open(name); }, keywords));
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)DynamicArray::open(name); }, keywords));
  EXPECT_TRUE(throws_with<shmkit::LayoutError>(
      [&] {
        (void)SharedArray<float>::open_or_create(name, {4, 4});
      },
      keywords));
  EXPECT_TRUE(shmkit::testing::segment_exists(name)) << "opening must never remove a segment";
}

TEST(ArrayLayoutTest, TooShortSegmentIsALayoutError) {
  const ScopedName name;
  shmkit::testing::make_raw_segment(name, 100, std::byte{0x5a});
  expect_layout_error_everywhere(name, {name.str(), "100 bytes", "too short", "not created by shmkit"});
}

TEST(ArrayLayoutTest, EmptySegmentIsALayoutError) {
  const ScopedName name;
  shmkit::testing::make_raw_segment(name, 0);
  expect_layout_error_everywhere(name, {name.str(), "empty", "0 bytes"});
}

TEST(ArrayLayoutTest, GarbageSegmentHasABadMagic) {
  const ScopedName name;
  shmkit::testing::make_raw_segment(name, 3 * 4096, std::byte{0xab});
  expect_layout_error_everywhere(name, {name.str(), "bad magic", "not a shmkit segment"});
}

TEST(ArrayLayoutTest, GarbageSegmentOfAnOddSizeHasABadMagic) {
  // Not a multiple of 8 bytes: the would-be trailer is misaligned, and must
  // be rejected without an unaligned access (UBSan checks this).
  const ScopedName name;
  shmkit::testing::make_raw_segment(name, 4096 + 5, std::byte{0xab});
  expect_layout_error_everywhere(name, {name.str()});
}

TEST(ArrayLayoutTest, SegmentWhoseCreatorNeverPublishedIsALayoutError) {
  // All zero: what a creator that died before publishing leaves behind.
  // open() waits a bounded time for the magic, then gives up.
  const ScopedName name;
  shmkit::testing::make_raw_segment(name, 2 * 4096);
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)SharedArray<float>::open(name); },
                                               {name.str(), "bad magic", "died while creating"}));
}

// Creates a valid 4x4 float array, applies `corrupt` to its trailer through a
// raw mapping, and expects every open to fail with `keywords`.
template <class F>
void expect_corruption_detected(F&& corrupt, std::initializer_list<std::string_view> keywords) {
  const ScopedName name;
  auto array = SharedArray<float>::create(name, {4, 4});
  {
    const RawMapping raw(name);
    corrupt(raw.trailer());
  }
  expect_layout_error_everywhere(name, keywords);
}

TEST(ArrayLayoutTest, OverwrittenMagicIsDetected) {
  expect_corruption_detected([](std::byte* t) { std::memcpy(t + kMagicAt, "SHMKIX\0\0", 8); }, {"bad magic"});
}

TEST(ArrayLayoutTest, OtherLayoutVersionIsDetected) {
  expect_corruption_detected([](std::byte* t) { write_at<std::uint32_t>(t, kVersionAt, 99); },
                             {"layout version 99", "reads version 1"});
}

TEST(ArrayLayoutTest, LoggerSegmentIsNotAnArray) {
  expect_corruption_detected([](std::byte* t) { write_at<std::uint32_t>(t, kKindAt, 2); },
                             {"logger segment", "not an array"});
}

TEST(ArrayLayoutTest, UnknownKindIsNotAnArray) {
  expect_corruption_detected([](std::byte* t) { write_at<std::uint32_t>(t, kKindAt, 77); },
                             {"unknown segment", "not an array"});
}

TEST(ArrayLayoutTest, UnknownDtypeIsDetected) {
  expect_corruption_detected([](std::byte* t) { std::memcpy(t + kDtypeAt, "zz\0\0\0\0\0\0", 8); },
                             {"unknown dtype 'zz'"});
  expect_corruption_detected([](std::byte* t) { std::memcpy(t + kDtypeAt, ">f4\0\0\0\0\0", 8); },
                             {"unknown dtype '>f4'"});
  // No terminating NUL in the 8-byte field.
  expect_corruption_detected([](std::byte* t) { std::memcpy(t + kDtypeAt, "xxxxxxxx", 8); },
                             {"unknown dtype 'xxxxxxxx'"});
}

TEST(ArrayLayoutTest, InconsistentItemSizeIsDetected) {
  expect_corruption_detected([](std::byte* t) { write_at<std::uint32_t>(t, kItemSizeAt, 8); },
                             {"inconsistent", "item size 8"});
}

TEST(ArrayLayoutTest, TooManyDimensionsIsDetected) {
  expect_corruption_detected([](std::byte* t) { write_at<std::uint32_t>(t, kNdimAt, 17); },
                             {"inconsistent", "ndim 17"});
  expect_corruption_detected([](std::byte* t) { write_at<std::uint32_t>(t, kNdimAt, 0xffffffffU); }, {"inconsistent"});
}

TEST(ArrayLayoutTest, DataBytesThatDisagreeWithTheShapeAreDetected) {
  expect_corruption_detected([](std::byte* t) { write_at<std::uint64_t>(t, kDataBytesAt, 65); },
                             {"shape (4, 4)", "does not fit"});
}

TEST(ArrayLayoutTest, ShapeLargerThanTheSegmentIsDetected) {
  expect_corruption_detected(
      [](std::byte* t) {
        write_at<std::uint64_t>(t, kShapeAt, 100000);
        write_at<std::uint64_t>(t, kDataBytesAt, 100000 * 4 * 4);
      },
      {"shape (100000, 4)", "does not fit", "8192-byte segment"});
}

TEST(ArrayLayoutTest, OverflowingShapeIsDetected) {
  expect_corruption_detected(
      [](std::byte* t) {
        write_at<std::uint64_t>(t, kShapeAt, std::uint64_t{1} << 62);
        write_at<std::uint64_t>(t, kShapeAt + 8, std::uint64_t{1} << 4);
      },
      {"does not fit"});
}

}  // namespace
