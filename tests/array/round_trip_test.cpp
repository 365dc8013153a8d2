// Create / open / destroy round trips for every element type and for 1-D to
// 4-D shapes.

#include <shmkit/array/shared_array.hpp>
#include <shmkit/core/error.hpp>

#include <gtest/gtest.h>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include <atomic>
#include <complex>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "element_test_values.hpp"
#include "test_support.hpp"

namespace {

using shmkit::Index;
using shmkit::Locking;
using shmkit::SharedArray;
using shmkit::testing::Buffer;
using shmkit::testing::sample;
using shmkit::testing::ScopedName;
using shmkit::testing::segment_exists;
using shmkit::testing::throws_with;

using Shape = std::vector<std::size_t>;

// 1-D to 4-D, including an extent of 1 and arrays larger than a page.
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> kShapes{{7}, {3, 5}, {2, 3, 4}, {2, 1, 3, 5}, {5000}, {3, 700}};
  return kShapes;
}

std::string shape_text(const Shape& shape) {
  std::string text;
  for (const std::size_t extent : shape) {
    text += (text.empty() ? "" : "x") + std::to_string(extent);
  }
  return text;
}

// The C-order multi-index of flat offset `flat` in `shape`.
Shape unflatten(std::size_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (std::size_t axis = shape.size(); axis-- > 0;) {
    index[axis] = flat % shape[axis];
    flat /= shape[axis];
  }
  return index;
}

template <class T>
class RoundTripTest : public ::testing::Test {};
TYPED_TEST_SUITE(RoundTripTest, shmkit::testing::AllElementTypes);

TYPED_TEST(RoundTripTest, CreateOpenDestroyEveryShape) {
  using T = TypeParam;
  for (const Shape& shape : shapes()) {
    SCOPED_TRACE("shape " + shape_text(shape));
    const ScopedName name;
    const T fill = sample<T>(1);
    auto created = SharedArray<T>::create(name, std::span<const std::size_t>(shape), {.fill = fill});
    EXPECT_EQ(created.name(), name.str());
    EXPECT_EQ(Shape(created.shape().begin(), created.shape().end()), shape);
    EXPECT_EQ(created.ndim(), shape.size());
    std::size_t count = 1;
    for (const std::size_t extent : shape) {
      count *= extent;
    }
    ASSERT_EQ(created.size(), count);
    EXPECT_EQ(created.nbytes(), count * sizeof(T));
    EXPECT_EQ(SharedArray<T>::dtype(), shmkit::dtype_of<T>);

    // The fill reached every element.
    for (std::size_t i = 0; i < count; ++i) {
      ASSERT_EQ(created[i], fill) << "element " << i;
    }

    // A second handle sees the fill and writes through the first.
    auto opened = SharedArray<T>::open(name, std::span<const std::size_t>(shape));
    EXPECT_EQ(opened.size(), count);
    const Shape last = unflatten(count - 1, shape);
    const Shape middle = unflatten(count / 2, shape);
    EXPECT_EQ(opened.read(last), fill);
    created.write(last, sample<T>(2));
    created.write(middle, sample<T>(3), Locking::locked);
    EXPECT_EQ(opened.read(last), sample<T>(2));
    EXPECT_EQ(opened.read(middle, Locking::locked), sample<T>(3));
    EXPECT_EQ(opened.flat_index(last), count - 1);
    EXPECT_EQ(opened[count - 1], sample<T>(2));

    // view() is the same memory, in C order, with the array's shape.
    auto view = opened.view();
    ASSERT_EQ(Shape(view.shape().begin(), view.shape().end()), shape);
    EXPECT_EQ(view.element(last.begin(), last.end()), sample<T>(2));
    EXPECT_EQ(view.data(), opened.data());
    view.element(middle.begin(), middle.end()) = sample<T>(4);
    EXPECT_EQ(created.read(middle), sample<T>(4));
    const auto& const_created = created;
    EXPECT_EQ(const_created.view().element(middle.begin(), middle.end()), sample<T>(4));

    // Every element, through view and snapshot.
    created.view() = xt::zeros<T>(shape);
    Buffer<T> expected(count);
    for (std::size_t i = 0; i < count; ++i) {
      expected[i] = sample<T>(i);
      created[i] = expected[i];
    }
    const xt::xarray<T> snapshot = opened.snapshot();
    ASSERT_EQ(Shape(snapshot.shape().begin(), snapshot.shape().end()), shape);
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), snapshot.begin()));
    Buffer<T> copy(count);
    EXPECT_TRUE(opened.try_snapshot(copy.span()));
    EXPECT_TRUE(copy == expected);

    // destroy() removes the name; both mappings stay usable.
    EXPECT_TRUE(created.destroy());
    EXPECT_FALSE(segment_exists(name));
    EXPECT_EQ(opened[0], expected[0]);
    EXPECT_TRUE(throws_with<shmkit::NotFoundError>([&] { (void)SharedArray<T>::open(name); }, {name.str()}));
    EXPECT_FALSE(created.destroy());
    EXPECT_FALSE(SharedArray<T>::remove(name));
  }
}

TYPED_TEST(RoundTripTest, DefaultFillIsZero) {
  using T = TypeParam;
  const ScopedName name;
  auto array = SharedArray<T>::create(name, {4, 600});
  for (std::size_t i = 0; i < array.size(); ++i) {
    ASSERT_EQ(array[i], T{}) << i;
  }
}

TYPED_TEST(RoundTripTest, CreateFromXtensorPrototype) {
  using T = TypeParam;
  const ScopedName name;
  xt::xarray<T> prototype = xt::xarray<T>::from_shape({2, 3, 4});
  for (std::size_t i = 0; i < prototype.size(); ++i) {
    prototype.flat(i) = sample<T>(i);
  }
  auto created = SharedArray<T>::create(name, prototype);
  auto opened = SharedArray<T>::open(name);
  EXPECT_EQ(Shape(opened.shape().begin(), opened.shape().end()), (Shape{2, 3, 4}));
  for (std::size_t i = 0; i < prototype.size(); ++i) {
    ASSERT_EQ(opened[i], sample<T>(i)) << i;
  }
  // An xtensor expression works as a prototype too, not only a container.
  const ScopedName view_name;
  auto from_view = SharedArray<T>::create(view_name, xt::view(prototype, 1, xt::all(), xt::all()));
  EXPECT_EQ(Shape(from_view.shape().begin(), from_view.shape().end()), (Shape{3, 4}));
  EXPECT_EQ(from_view.read({2, 3}), sample<T>(23));
}

TYPED_TEST(RoundTripTest, OpenOrCreateCreatesThenOpens) {
  using T = TypeParam;
  const ScopedName name;
  auto first = SharedArray<T>::open_or_create(name, {2, 3}, {.fill = sample<T>(1)});
  EXPECT_EQ(first.read({1, 2}), sample<T>(1));
  first.write({0, 1}, sample<T>(2));
  // The second call finds the array: it keeps its contents (no re-fill).
  auto second = SharedArray<T>::open_or_create(name, {2, 3}, {.fill = sample<T>(5)});
  EXPECT_EQ(second.read({0, 1}), sample<T>(2));
  EXPECT_EQ(second.read({1, 2}), sample<T>(1));
  second.write({1, 0}, sample<T>(3));
  EXPECT_EQ(first.read({1, 0}), sample<T>(3));
  EXPECT_FALSE(second.info().unlink_on_creator_close);
}

TYPED_TEST(RoundTripTest, ExistOkOpensAMatchingArray) {
  using T = TypeParam;
  const ScopedName name;
  auto first = SharedArray<T>::create(name, {3, 2, 2}, {.fill = sample<T>(1)});
  auto second = SharedArray<T>::create(name, {3, 2, 2}, {.exist_ok = true, .fill = sample<T>(4)});
  EXPECT_EQ(second.read({2, 1, 1}), sample<T>(1));
  second.write({0, 0, 0}, sample<T>(2));
  EXPECT_EQ(first.read({0, 0, 0}), sample<T>(2));
}

TYPED_TEST(RoundTripTest, ExistOkRejectsAnotherShapeOrDtype) {
  using T = TypeParam;
  using Other = shmkit::testing::OtherType<T>;
  const ScopedName name;
  auto existing = SharedArray<T>::create(name, {3, 4});
  EXPECT_TRUE(throws_with<shmkit::LayoutError>(
      [&] {
        (void)SharedArray<T>::create(name, {4, 3}, {.exist_ok = true});
      },
      {name.str(), "(4, 3)", "(3, 4)"}));
  EXPECT_TRUE(throws_with<shmkit::LayoutError>([&] { (void)SharedArray<T>::open_or_create(name, {12}); },
                                               {name.str(), "(12,)", "(3, 4)"}));
  const std::string ours(shmkit::dtype_string(shmkit::dtype_of<T>));
  const std::string theirs(shmkit::dtype_string(shmkit::dtype_of<Other>));
  EXPECT_TRUE(throws_with<shmkit::LayoutError>(
      [&] {
        (void)SharedArray<Other>::create(name, {3, 4}, {.exist_ok = true});
      },
      {name.str(), ours, theirs}));
  EXPECT_TRUE(throws_with<shmkit::LayoutError>(
      [&] {
        (void)SharedArray<Other>::open_or_create(name, {3, 4});
      },
      {name.str(), ours, theirs}));
  // The failed attempts left the array alone.
  EXPECT_NO_THROW((void)SharedArray<T>::open(name, std::vector<std::size_t>{3, 4}));
}

TYPED_TEST(RoundTripTest, RemoveThenOpenIsNotFound) {
  using T = TypeParam;
  const ScopedName name;
  { auto array = SharedArray<T>::create(name, {5}); }
  EXPECT_TRUE(segment_exists(name));  // closing a handle never removes the name
  EXPECT_TRUE(SharedArray<T>::remove(name));
  EXPECT_TRUE(throws_with<shmkit::NotFoundError>([&] { (void)SharedArray<T>::open(name); },
                                                 {"cannot open", name.str(), "no such segment"}));
  EXPECT_FALSE(SharedArray<T>::remove(name));
}

TYPED_TEST(RoundTripTest, SlicesRoundTrip) {
  using T = TypeParam;
  const ScopedName name;
  auto array = SharedArray<T>::create(name, {4, 5});
  Buffer<T> in(7);
  for (std::size_t i = 0; i < in.size(); ++i) {
    in[i] = sample<T>(i + 1);
  }
  array.write_slice(3, in.cspan());
  array.write_slice(13, in.cspan(), Locking::locked);
  Buffer<T> out(7);
  array.read_slice(3, out.span());
  EXPECT_TRUE(out == in);
  Buffer<T> locked_out(7);
  array.read_slice(13, locked_out.span(), Locking::locked);
  EXPECT_TRUE(locked_out == in);
  EXPECT_EQ(array.read({0, 3}), in[0]);
  EXPECT_EQ(array.read({3, 4}), in[6]);
  EXPECT_EQ(array.read({0, 2}), T{});
  // Empty slices at either end are fine.
  array.read_slice(20, std::span<T>());
  array.write_slice(0, std::span<const T>());
}

TYPED_TEST(RoundTripTest, AtomicAccessExactlyWhereLockFree) {
  using T = TypeParam;
  const ScopedName name;
  auto array = SharedArray<T>::create(name, {2, 3});
  // atomic() exists exactly for the element types whose atomic_ref is
  // lock-free (all but the 16-byte complex<double> on x86-64).
  constexpr bool kHasAtomic = requires(SharedArray<T> & a) {
    a.atomic(std::size_t{0});
  };
  static_assert(kHasAtomic == std::atomic_ref<T>::is_always_lock_free);
  static_assert(kHasAtomic || std::is_same_v<T, std::complex<double>>);
  if constexpr (kHasAtomic) {
    array.atomic(Index{1, 2}).store(sample<T>(3));
    EXPECT_EQ(array.read({1, 2}), sample<T>(3));
    EXPECT_EQ(array.atomic(5).load(), sample<T>(3));
    T expected = sample<T>(3);
    EXPECT_TRUE(array.atomic(5).compare_exchange_strong(expected, sample<T>(4)));
    EXPECT_EQ(array[5], sample<T>(4));
    EXPECT_EQ(array.atomic(0).exchange(sample<T>(1)), T{});
    EXPECT_EQ(array[0], sample<T>(1));
  }
}

}  // namespace
