#pragma once
/// @file
/// What a channel carries and how it behaves: SampleSpec, ChannelOptions,
/// SubscriberOptions.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <shmkit/channel/layout.hpp>
#include <shmkit/core/dtype.hpp>
#include <shmkit/core/segment.hpp>

namespace shmkit {

/// The type of a channel's samples, fixed when the channel is created and
/// checked by everyone who opens it (a mismatch is a LayoutError).
struct SampleSpec {
  ChannelSampleKind kind = ChannelSampleKind::value;
  /// value: the size of the C++ type; variable_array: the largest sample;
  /// array: product(shape) * dtype_size(dtype) (filled in by `array`).
  std::size_t bytes = 0;
  /// value: alignof the C++ type (a power of two, at most 4096).
  std::size_t align = 1;
  /// Array kinds: the element type.
  Dtype dtype = Dtype::u1;
  /// array: the shape of every sample (at most kMaxChannelDims dimensions).
  std::vector<std::size_t> shape;

  /// One trivially copyable `T` per sample (Publisher<T> / Subscriber<T>).
  template <class T>
  static SampleSpec value() {
    static_assert(std::is_trivially_copyable_v<T>, "channel samples are shared bytes: T must be trivially copyable");
    SampleSpec spec;
    spec.kind = ChannelSampleKind::value;
    spec.bytes = sizeof(T);
    spec.align = alignof(T);
    return spec;
  }

  /// Raw byte samples of exactly `n` bytes (a value sample of no C++ type).
  static SampleSpec bytes_of(std::size_t n) {
    SampleSpec spec;
    spec.kind = ChannelSampleKind::value;
    spec.bytes = n;
    spec.align = 1;
    return spec;
  }

  /// N-d array samples of one dtype and shape.
  static SampleSpec array(Dtype dtype, std::vector<std::size_t> shape) {
    SampleSpec spec;
    spec.kind = ChannelSampleKind::array;
    spec.dtype = dtype;
    spec.bytes = dtype_size(dtype);
    for (const std::size_t extent : shape) {
      spec.bytes *= extent;
    }
    spec.align = dtype_size(dtype);
    spec.shape = std::move(shape);
    return spec;
  }

  /// N-d array samples of one dtype whose shape each publish chooses, up to
  /// `max_bytes` bytes per sample (payload sizes known only at run time).
  static SampleSpec variable_array(Dtype dtype, std::size_t max_bytes) {
    SampleSpec spec;
    spec.kind = ChannelSampleKind::variable_array;
    spec.dtype = dtype;
    spec.bytes = max_bytes;
    spec.align = dtype_size(dtype);
    return spec;
  }
};

/// How `Channel::create` lays out a channel.
struct ChannelOptions {
  /// What every sample is.
  SampleSpec sample;
  /// Sample slots in the pool. Every slot a subscriber holds, every loan and
  /// the `history` newest samples each occupy one; at least history + 2.
  std::uint32_t slots = 8;
  /// Newest samples kept for subscribers that join late (they start with
  /// these) and never reused while newer than that; 0 still keeps the
  /// newest one for `latest()`.
  std::uint32_t history = 1;
  /// Subscribers connected at once, 1..kMaxChannelSubscribers (63).
  std::uint32_t max_subscribers = 8;
  /// drop_oldest (default): the publisher never waits for a slow subscriber,
  /// who misses samples and is told how many. block: `loan(timeout)` waits
  /// until every subscriber has read the sample it would overwrite.
  ChannelOverflow overflow = ChannelOverflow::drop_oldest;
  /// Permission bits of the segment (0660 to share with a group).
  mode_t mode = kDefaultMode;
};

/// Where a new subscriber starts reading.
enum class SubscriberStart : std::uint8_t {
  history,  ///< with the channel's retained history (up to `history` newest samples)
  now,      ///< with the next sample published after connecting
};

/// How `Channel::subscriber` connects.
struct SubscriberOptions {
  SubscriberStart start = SubscriberStart::history;
};

}  // namespace shmkit
