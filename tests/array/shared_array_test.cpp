#include <shmkit/array/dynamic_array.hpp>
#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>

#include <gtest/gtest.h>

#include <xtensor/xview.hpp>

#include "test_support.hpp"

namespace {

using shmkit::SharedArray;
using shmkit::testing::ScopedName;

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

TEST(SharedArrayTest, OpenRejectsDtypeMismatch) {
  const ScopedName name;
  auto created = SharedArray<std::int32_t>::create(name, {8});
  try {
    (void)SharedArray<float>::open(name);
    FAIL() << "expected LayoutError";
  } catch (const shmkit::LayoutError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("<i4"), std::string::npos) << message;
    EXPECT_NE(message.find("<f4"), std::string::npos) << message;
  }
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

}  // namespace
