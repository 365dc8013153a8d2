#pragma once
// Constants of the zip format (PKWARE APPNOTE 6.3) used by the archive
// writer and reader.

#include <cstdint>

namespace shmkit::detail::zip {

inline constexpr std::uint32_t kLocalHeaderSig = 0x04034b50;
inline constexpr std::uint32_t kCentralHeaderSig = 0x02014b50;
inline constexpr std::uint32_t kEndSig = 0x06054b50;
inline constexpr std::uint32_t kZip64EndSig = 0x06064b50;
inline constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
inline constexpr std::uint16_t kZip64ExtraId = 0x0001;

inline constexpr std::uint16_t kMethodStored = 0;
inline constexpr std::uint16_t kMethodDeflate = 8;

inline constexpr std::uint16_t kVersionDefault = 20;
inline constexpr std::uint16_t kVersionZip64 = 45;
inline constexpr std::uint16_t kMadeByUnix = 3 << 8;

inline constexpr std::uint32_t kMax32 = 0xffffffffU;
inline constexpr std::uint16_t kMax16 = 0xffffU;

inline constexpr std::uint32_t kLocalHeaderBytes = 30;
inline constexpr std::uint32_t kCentralHeaderBytes = 46;
inline constexpr std::uint32_t kEndBytes = 22;
inline constexpr std::uint32_t kZip64EndBytes = 56;
inline constexpr std::uint32_t kZip64LocatorBytes = 20;

}  // namespace shmkit::detail::zip
