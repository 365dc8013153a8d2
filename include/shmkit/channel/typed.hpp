#pragma once
/// @file
/// Publisher<T> / Subscriber<T>: a channel whose every sample is one
/// trivially copyable `T`, loaned and received in place.
///
/// ```
/// struct Pose { double x, y, theta; std::uint64_t frame; };
/// auto pub = shmkit::Publisher<Pose>::create("pose");
/// if (auto loan = pub.loan()) { (*loan)->x = 1.0; pub.publish(std::move(*loan)); }
/// auto sub = shmkit::Subscriber<Pose>::connect("pose");          // another process
/// if (auto pose = sub.receive(std::chrono::milliseconds(10))) { use((*pose)->x); }
/// ```

#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include <shmkit/channel/channel.hpp>

namespace shmkit {

/// A value channel's publisher (see DynamicPublisher for the semantics).
template <class T>
class Publisher {
  static_assert(std::is_trivially_copyable_v<T>, "channel samples are shared bytes: T must be trivially copyable");

 public:
  /// A loaned slot holding one T (its previous contents, not a fresh T).
  class Loan {
   public:
    [[nodiscard]] T& operator*() const noexcept { return *value(); }
    [[nodiscard]] T* operator->() const noexcept { return value(); }
    [[nodiscard]] T* value() const noexcept { return reinterpret_cast<T*>(loan_.bytes().data()); }

   private:
    friend class Publisher;
    explicit Loan(shmkit::Loan loan) noexcept : loan_(std::move(loan)) {}
    shmkit::Loan loan_;
  };

  /// Opens channel `name` (its samples must be T) or creates it with
  /// `options` (whose `sample` is set to T), then claims the publisher role.
  /// @throws as Channel::open_or_create and Channel::publisher
  static Publisher create(std::string_view name, ChannelOptions options = {}) {
    options.sample = SampleSpec::value<T>();
    return Publisher(Channel::open_or_create(name, options).publisher());
  }

  /// Claims the publisher role of an open channel.
  /// @throws LayoutError (its samples are not T), ExistsError
  static Publisher attach(const Channel& channel) {
    channel.expect(SampleSpec::value<T>());
    return Publisher(channel.publisher());
  }

  [[nodiscard]] std::optional<Loan> loan() noexcept { return wrap(inner_.loan()); }
  [[nodiscard]] std::optional<Loan> loan(std::chrono::nanoseconds timeout) noexcept {
    return wrap(inner_.loan(timeout));
  }
  std::uint64_t publish(Loan&& loan) noexcept { return inner_.publish(std::move(loan.loan_)); }

  /// Copies `value` into a loan and publishes it; nullopt if no slot was
  /// usable within `timeout`.
  std::optional<std::uint64_t> send(const T& value,
                                    std::chrono::nanoseconds timeout = std::chrono::nanoseconds(0)) noexcept {
    auto slot = loan(timeout);
    if (!slot) {
      return std::nullopt;
    }
    std::memcpy(static_cast<void*>(slot->value()), &value, sizeof(T));
    return publish(std::move(*slot));
  }

  [[nodiscard]] std::uint64_t published() const noexcept { return inner_.published(); }
  [[nodiscard]] const Channel& channel() const noexcept { return inner_.channel(); }

 private:
  explicit Publisher(DynamicPublisher inner) noexcept : inner_(std::move(inner)) {}
  static std::optional<Loan> wrap(std::optional<shmkit::Loan> loan) noexcept {
    if (!loan) {
      return std::nullopt;
    }
    return Loan(std::move(*loan));
  }
  DynamicPublisher inner_;
};

/// A value channel's subscriber (see DynamicSubscriber for the semantics).
template <class T>
class Subscriber {
  static_assert(std::is_trivially_copyable_v<T>, "channel samples are shared bytes: T must be trivially copyable");

 public:
  /// A received T, read-only and valid while held.
  class Sample {
   public:
    [[nodiscard]] const T& operator*() const noexcept { return *value(); }
    [[nodiscard]] const T* operator->() const noexcept { return value(); }
    [[nodiscard]] const T* value() const noexcept { return reinterpret_cast<const T*>(sample_.bytes().data()); }
    [[nodiscard]] std::uint64_t sequence() const noexcept { return sample_.sequence(); }
    [[nodiscard]] std::uint64_t publish_ns() const noexcept { return sample_.publish_ns(); }

   private:
    friend class Subscriber;
    explicit Sample(shmkit::Sample sample) noexcept : sample_(std::move(sample)) {}
    shmkit::Sample sample_;
  };

  /// Connects to channel `name`.
  /// @throws NotFoundError, LayoutError (its samples are not T), Error
  static Subscriber connect(std::string_view name, const SubscriberOptions& options = {}) {
    return attach(Channel::open(name), options);
  }

  /// Connects to an open channel.
  /// @throws LayoutError (its samples are not T), Error
  static Subscriber attach(const Channel& channel, const SubscriberOptions& options = {}) {
    channel.expect(SampleSpec::value<T>());
    return Subscriber(channel.subscriber(options));
  }

  [[nodiscard]] std::optional<Sample> receive() noexcept { return wrap(inner_.receive()); }
  [[nodiscard]] std::optional<Sample> receive(std::chrono::nanoseconds timeout) noexcept {
    return wrap(inner_.receive(timeout));
  }
  [[nodiscard]] std::optional<Sample> latest() noexcept { return wrap(inner_.latest()); }
  bool wait(std::chrono::nanoseconds timeout) noexcept { return inner_.wait(timeout); }

  [[nodiscard]] std::uint64_t pending() const noexcept { return inner_.pending(); }
  [[nodiscard]] std::uint64_t missed() const noexcept { return inner_.missed(); }
  [[nodiscard]] std::uint64_t received() const noexcept { return inner_.received(); }
  [[nodiscard]] std::uint64_t skipped() const noexcept { return inner_.skipped(); }
  [[nodiscard]] const Channel& channel() const noexcept { return inner_.channel(); }

 private:
  explicit Subscriber(DynamicSubscriber inner) noexcept : inner_(std::move(inner)) {}
  static std::optional<Sample> wrap(std::optional<shmkit::Sample> sample) noexcept {
    if (!sample) {
      return std::nullopt;
    }
    return Sample(std::move(*sample));
  }
  DynamicSubscriber inner_;
};

}  // namespace shmkit
