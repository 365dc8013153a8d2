// DynamicArray: an array opened by name without knowing its element type.

#include <shmkit/array/dynamic_array.hpp>
#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>

#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "element_test_values.hpp"
#include "test_support.hpp"

namespace {

using shmkit::DynamicArray;
using shmkit::SharedArray;
using shmkit::testing::sample;
using shmkit::testing::ScopedName;
using shmkit::testing::throws_with;
using namespace std::chrono_literals;

template <class T>
class DynamicArrayTypedTest : public ::testing::Test {};
TYPED_TEST_SUITE(DynamicArrayTypedTest, shmkit::testing::AllElementTypes);

TYPED_TEST(DynamicArrayTypedTest, OpensAnyDtype) {
  using T = TypeParam;
  const ScopedName name;
  auto typed = SharedArray<T>::create(name, {3, 1, 4}, {.unlink_on_close = true});
  for (std::size_t i = 0; i < typed.size(); ++i) {
    typed[i] = sample<T>(i);
  }
  auto dynamic = DynamicArray::open(name);
  EXPECT_EQ(dynamic.name(), name.str());
  EXPECT_EQ(dynamic.dtype(), shmkit::dtype_of<T>);
  EXPECT_EQ(std::vector<std::size_t>(dynamic.shape().begin(), dynamic.shape().end()),
            (std::vector<std::size_t>{3, 1, 4}));
  EXPECT_EQ(dynamic.size(), 12U);
  EXPECT_EQ(dynamic.nbytes(), 12 * sizeof(T));

  const shmkit::ArrayInfo info = dynamic.info();
  EXPECT_EQ(info.dtype, shmkit::dtype_of<T>);
  EXPECT_EQ(info.data_bytes, 12 * sizeof(T));
  EXPECT_EQ(info.creator.pid, ::getpid());
  EXPECT_TRUE(info.unlink_on_creator_close);

  // bytes() is the array's memory in C order.
  const auto bytes = dynamic.bytes();
  ASSERT_EQ(bytes.size(), 12 * sizeof(T));
  EXPECT_EQ(std::memcmp(bytes.data(), typed.data(), bytes.size()), 0);
  std::memcpy(bytes.data(), &typed[5], sizeof(T));  // element 0 = element 5
  EXPECT_EQ(typed[0], sample<T>(5));

  // as<T>() is a typed handle on the same memory, valid on its own.
  {
    auto again = dynamic.as<T>();
    EXPECT_EQ(again.read({2, 0, 3}), sample<T>(11));
    again.write({1, 0, 0}, sample<T>(1));
    EXPECT_EQ(typed.read({1, 0, 0}), sample<T>(1));
  }
  EXPECT_TRUE(shmkit::testing::segment_exists(name)) << "as<T>() handles are not creators";

  // visit() hands over the right SharedArray<T>.
  const bool right_type = dynamic.visit([](auto array) {
    using U = typename decltype(array)::value_type;
    return std::is_same_v<U, T> && array.size() == 12;
  });
  EXPECT_TRUE(right_type);
  const std::size_t item = dynamic.visit([](auto array) { return sizeof(*array.data()); });
  EXPECT_EQ(item, sizeof(T));

  // A snapshot is a copy of the bytes.
  const std::vector<std::byte> snapshot = dynamic.snapshot();
  ASSERT_EQ(snapshot.size(), 12 * sizeof(T));
  EXPECT_EQ(std::memcmp(snapshot.data(), typed.data(), snapshot.size()), 0);
}

TYPED_TEST(DynamicArrayTypedTest, AsWithTheWrongTypeIsALayoutError) {
  using T = TypeParam;
  using Other = shmkit::testing::OtherType<T>;
  const ScopedName name;
  auto typed = SharedArray<T>::create(name, {5});
  auto dynamic = DynamicArray::open(name);
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)dynamic.template as<Other>(); },
                                               {name.str(), std::string(shmkit::dtype_string(shmkit::dtype_of<T>)),
                                                std::string(shmkit::dtype_string(shmkit::dtype_of<Other>))}));
  EXPECT_NO_THROW((void)dynamic.template as<T>());
}

TEST(DynamicArrayTest, LockIsTheArraysLock) {
  const ScopedName name;
  auto typed = SharedArray<float>::create(name, {64}, {.fill = 1.0F});
  auto dynamic = DynamicArray::open(name);
  {
    auto guard = dynamic.lock();
    EXPECT_FALSE(guard.recovered());
    // A lock holder is a seqlock writer: snapshots wait until it is done.
    std::vector<float> copy(64);
    EXPECT_FALSE(typed.try_snapshot(std::span(copy)));
    EXPECT_TRUE(throws_with<shmkit::TimeoutError>([&] { (void)dynamic.snapshot(10ms); }, {name.str()}));
    float two = 2.0F;
    std::memcpy(dynamic.bytes().data(), &two, sizeof two);
    shmkit::testing::Child other([&] {
      auto mine = SharedArray<float>::open(name);
      shmkit::testing::require(!mine.try_lock_for(0ns).has_value(), "the lock was free");
    });
    EXPECT_TRUE(shmkit::testing::exited_ok(other.wait(30s)));
  }
  const auto snapshot = dynamic.snapshot();
  float first = 0;
  std::memcpy(&first, snapshot.data(), sizeof first);
  EXPECT_EQ(first, 2.0F);
  EXPECT_TRUE(typed.try_lock_for(0ns).has_value());
}

TEST(DynamicArrayTest, DestroyRemovesTheName) {
  const ScopedName name;
  auto typed = SharedArray<std::int16_t>::create(name, {2});
  auto dynamic = DynamicArray::open(name);
  EXPECT_TRUE(dynamic.destroy());
  EXPECT_FALSE(dynamic.destroy());
  EXPECT_TRUE(throws_with<shmkit::NotFoundError>([&] { (void)DynamicArray::open(name); }, {name.str()}));
  typed[1] = 4;  // mappings outlive the name
  EXPECT_EQ(dynamic.as<std::int16_t>()[1], 4);
}

TEST(DynamicArrayTest, OpenErrors) {
  const ScopedName missing;
  EXPECT_TRUE(throws_with<shmkit::NotFoundError>([&] { (void)DynamicArray::open(missing); },
                                                 {"cannot open shared array", missing.str()}));
  EXPECT_TRUE(throws_with<shmkit::NameError>([] { (void)DynamicArray::open("no/slash"); }, {"'/'"}));
  const ScopedName foreign;
  shmkit::testing::make_raw_segment(foreign, 8192, std::byte{0x11});
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)DynamicArray::open(foreign); }, {"bad magic"}));
}

}  // namespace
