#include <shmkit/core/dtype.hpp>
#include <shmkit/core/error.hpp>

#include <array>
#include <utility>

namespace shmkit {

namespace {

struct DtypeSpelling {
  Dtype dtype;
  std::string_view numpy;  // dtype.str
  std::string_view name;   // dtype.name
  std::size_t size;
};

constexpr std::array<DtypeSpelling, 13> kSpellings{{
    {Dtype::b1, "|b1", "bool", 1},
    {Dtype::i1, "|i1", "int8", 1},
    {Dtype::u1, "|u1", "uint8", 1},
    {Dtype::i2, "<i2", "int16", 2},
    {Dtype::u2, "<u2", "uint16", 2},
    {Dtype::i4, "<i4", "int32", 4},
    {Dtype::u4, "<u4", "uint32", 4},
    {Dtype::i8, "<i8", "int64", 8},
    {Dtype::u8, "<u8", "uint64", 8},
    {Dtype::f4, "<f4", "float32", 4},
    {Dtype::f8, "<f8", "float64", 8},
    {Dtype::c8, "<c8", "complex64", 8},
    {Dtype::c16, "<c16", "complex128", 16},
}};

const DtypeSpelling& spelling(Dtype dtype) noexcept {
  return kSpellings[static_cast<std::size_t>(dtype)];
}

}  // namespace

std::string_view dtype_string(Dtype dtype) noexcept {
  return spelling(dtype).numpy;
}

std::string_view dtype_name(Dtype dtype) noexcept {
  return spelling(dtype).name;
}

std::size_t dtype_size(Dtype dtype) noexcept {
  return spelling(dtype).size;
}

Dtype parse_dtype(std::string_view text) {
  std::string_view bare = text;
  if (text == "?") {
    return Dtype::b1;
  }
  if (!bare.empty() && (bare.front() == '<' || bare.front() == '|' || bare.front() == '=')) {
    bare.remove_prefix(1);
  }
  for (const auto& entry : kSpellings) {
    if (bare == entry.numpy.substr(1) || text == entry.name || (entry.dtype == Dtype::b1 && text == "bool_")) {
      return entry.dtype;
    }
  }
  std::string accepted;
  for (const auto& entry : kSpellings) {
    accepted +=
        (accepted.empty() ? "" : ", ") + std::string(entry.numpy.substr(1)) + " (" + std::string(entry.name) + ")";
  }
  const std::string why = (!text.empty() && text.front() == '>') ? "big-endian dtypes are not supported"
                                                                 : "it is not a dtype shmkit arrays can hold";
  throw Error("unknown dtype '" + std::string(text) + "': " + why + "; use one of " + accepted);
}

std::string shape_string(std::span<const std::size_t> shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return text + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace shmkit
