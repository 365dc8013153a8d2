// Dtypes: numpy spellings, sizes, parsing, and the runtime-to-type dispatch.

#include <shmkit/core/dtype.hpp>
#include <shmkit/core/error.hpp>

#include <gtest/gtest.h>

#include <complex>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "element_test_values.hpp"
#include "test_support.hpp"

namespace {

using shmkit::Dtype;
using shmkit::testing::throws_with;

struct Expected {
  Dtype dtype;
  std::string_view numpy;
  std::string_view name;
  std::size_t size;
};

constexpr Expected kAll[] = {
    {Dtype::b1, "|b1", "bool", 1},          {Dtype::i1, "|i1", "int8", 1},    {Dtype::u1, "|u1", "uint8", 1},
    {Dtype::i2, "<i2", "int16", 2},         {Dtype::u2, "<u2", "uint16", 2},  {Dtype::i4, "<i4", "int32", 4},
    {Dtype::u4, "<u4", "uint32", 4},        {Dtype::i8, "<i8", "int64", 8},   {Dtype::u8, "<u8", "uint64", 8},
    {Dtype::f4, "<f4", "float32", 4},       {Dtype::f8, "<f8", "float64", 8}, {Dtype::c8, "<c8", "complex64", 8},
    {Dtype::c16, "<c16", "complex128", 16},
};

TEST(DtypeTest, NumpyStringsAndSizes) {
  for (const Expected& e : kAll) {
    SCOPED_TRACE(std::string(e.numpy));
    EXPECT_EQ(shmkit::dtype_string(e.dtype), e.numpy);
    EXPECT_EQ(shmkit::dtype_size(e.dtype), e.size);
  }
}

TEST(DtypeTest, ParsesWhatNumpyUsersType) {
  for (const Expected& e : kAll) {
    SCOPED_TRACE(std::string(e.numpy));
    EXPECT_EQ(shmkit::parse_dtype(e.numpy), e.dtype);                               // "<f4"
    EXPECT_EQ(shmkit::parse_dtype(e.numpy.substr(1)), e.dtype);                     // "f4"
    EXPECT_EQ(shmkit::parse_dtype("=" + std::string(e.numpy.substr(1))), e.dtype);  // native order
    EXPECT_EQ(shmkit::parse_dtype(e.name), e.dtype);                                // "float32"
  }
  EXPECT_EQ(shmkit::parse_dtype("?"), Dtype::b1);
  EXPECT_EQ(shmkit::parse_dtype("bool_"), Dtype::b1);
  EXPECT_EQ(shmkit::parse_dtype("<u1"), Dtype::u1);
}

TEST(DtypeTest, RejectsUnknownAndBigEndian) {
  EXPECT_TRUE(throws_with<shmkit::Error>([] { (void)shmkit::parse_dtype(">f4"); },
                                         {"'>f4'", "big-endian", "f4 (float32)", "c16 (complex128)"}));
  EXPECT_TRUE(throws_with<shmkit::Error>([] { (void)shmkit::parse_dtype("f16"); },
                                         {"unknown dtype 'f16'", "not a dtype", "u1 (uint8)"}));
  EXPECT_THROW((void)shmkit::parse_dtype(""), shmkit::Error);
  EXPECT_THROW((void)shmkit::parse_dtype("<"), shmkit::Error);
  EXPECT_THROW((void)shmkit::parse_dtype("Float32"), shmkit::Error);
  EXPECT_THROW((void)shmkit::parse_dtype("<float32"), shmkit::Error);
}

template <class T>
class DtypeTypedTest : public ::testing::Test {};
TYPED_TEST_SUITE(DtypeTypedTest, shmkit::testing::AllElementTypes);

TYPED_TEST(DtypeTypedTest, DtypeOfAndVisitAgree) {
  using T = TypeParam;
  constexpr Dtype dtype = shmkit::dtype_of<T>;
  EXPECT_EQ(shmkit::dtype_size(dtype), sizeof(T));
  const bool same =
      shmkit::visit_dtype(dtype, [](auto type) { return std::is_same_v<typename decltype(type)::type, T>; });
  EXPECT_TRUE(same);
  static_assert(shmkit::ArrayElement<T>);
}

TEST(DtypeTest, OnlyTheListedTypesAreElements) {
  static_assert(!shmkit::ArrayElement<char>);  // plain char is neither int8 nor uint8 for numpy
  static_assert(!shmkit::ArrayElement<long double>);
  static_assert(!shmkit::ArrayElement<std::complex<long double>>);
  static_assert(!shmkit::ArrayElement<int*>);
  static_assert(shmkit::ArrayElement<std::int64_t> && shmkit::ArrayElement<std::uint64_t>);
  SUCCEED();
}

}  // namespace
