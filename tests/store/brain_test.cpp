// Brain: typed round trips of every value type, zero-copy array views into
// the read-only arena mapping, wrong-type errors, metadata, the map-like
// operations, and values set and read by different processes.

#include <gtest/gtest.h>
#include <shmkit/core/error.hpp>
#include <shmkit/store/brain.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <boost/describe.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <complex>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <xtensor/xview.hpp>

#include "store_test_util.hpp"

namespace shmkit::testing {

enum class Trigger { internal, external };
BOOST_DESCRIBE_ENUM(Trigger, internal, external)

struct Camera {
  std::uint32_t exposure_us = 10'000;
  std::array<std::uint16_t, 4> roi{0, 0, 640, 480};
  Trigger trigger = Trigger::internal;
};
BOOST_DESCRIBE_STRUCT(Camera, (), (exposure_us, roi, trigger))

struct Rig {
  std::string animal = "mouse-1";
  Camera camera;
  std::map<std::string, double> gains{{"red", 1.5}};
  bool operator==(const Rig& other) const {
    return animal == other.animal && camera.exposure_us == other.camera.exposure_us && camera.roi == other.camera.roi &&
           camera.trigger == other.camera.trigger && gains == other.gains;
  }
};
BOOST_DESCRIBE_STRUCT(Rig, (), (animal, camera, gains))

struct Other {
  int x = 0;
};
BOOST_DESCRIBE_STRUCT(Other, (), (x))

// Numbers only, nested, one field excluded from the YAML: written with a
// binary image beside its YAML text.
struct Spot {
  float x = 0;
  std::int32_t y = 0;
};
BOOST_DESCRIBE_STRUCT(Spot, (), (x, y))

struct Stats {
  std::uint64_t frame = 0;
  double mean = 0;
  std::uint16_t peak = 0;
  bool saturated = false;
  Spot spot;
  std::uint32_t scratch = 7;  // not saved: reads give the default
  static constexpr std::array<std::string_view, 1> kYamlExclude{"scratch"};
};
BOOST_DESCRIBE_STRUCT(Stats, (), (frame, mean, peak, saturated, spot, scratch))

// A field of every kind the YAML codec writes, for the struct image.
struct Session {
  std::string animal = "mouse-1";
  std::string note;  // empty
  std::filesystem::path out = "/tmp/session";
  std::optional<double> weight_g;
  std::optional<std::string> rig = "rig-2";
  std::vector<std::int32_t> trials{1, 2, 3};
  std::vector<bool> licks{true, false, true};
  std::vector<std::string> tags{"a", "", "naïve"};
  std::array<std::uint16_t, 3> roi{1, 2, 3};
  std::map<std::string, Spot> spots{{"left", {1.5F, 2}}, {"right", {-1, -2}}};
  std::chrono::milliseconds iti{300};
  Trigger trigger = Trigger::external;
  Camera camera;
  std::vector<Camera> spares{Camera{}, Camera{}};
  bool operator==(const Session& o) const {
    const auto same_spots = [](const auto& a, const auto& b) {
      return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
               return x.first == y.first && x.second.x == y.second.x && x.second.y == y.second.y;
             });
    };
    const auto same_cameras = [](const Camera& a, const Camera& b) {
      return a.exposure_us == b.exposure_us && a.roi == b.roi && a.trigger == b.trigger;
    };
    return animal == o.animal && note == o.note && out == o.out && weight_g == o.weight_g && rig == o.rig &&
           trials == o.trials && licks == o.licks && tags == o.tags && roi == o.roi && same_spots(spots, o.spots) &&
           iti == o.iti && trigger == o.trigger && same_cameras(camera, o.camera) && spares.size() == o.spares.size() &&
           std::equal(spares.begin(), spares.end(), o.spares.begin(), same_cameras);
  }
};
BOOST_DESCRIBE_STRUCT(Session, (),
                      (animal, note, out, weight_g, rig, trials, licks, tags, roi, spots, iti, trigger, camera, spares))

namespace {

using namespace std::chrono_literals;

// The /proc/self/maps line of the mapping holding `address`.
std::string mapping_of(const void* address) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto target = reinterpret_cast<std::uintptr_t>(address);
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::uintptr_t start = 0;
    std::uintptr_t end = 0;
    char dash = 0;
    fields >> std::hex >> start >> dash >> end;
    if (target >= start && target < end) {
      return line;
    }
  }
  return {};
}

template <class T>
void expect_round_trip(Brain& brain, const std::string& name, const T& value) {
  brain.set(name, value);
  EXPECT_EQ(brain.get<T>(name), value) << name;
}

TEST(BrainTest, ScalarsAndStringsRoundTrip) {
  TestStore store(4 << 20);
  Brain brain(store.client(), "exp");
  expect_round_trip(brain, "flag", true);
  expect_round_trip(brain, "i8", std::int8_t{-7});
  expect_round_trip(brain, "u8", std::uint8_t{250});
  expect_round_trip(brain, "i16", std::int16_t{-30000});
  expect_round_trip(brain, "u16", std::uint16_t{65000});
  expect_round_trip(brain, "i32", std::int32_t{-2'000'000'000});
  expect_round_trip(brain, "u32", std::uint32_t{4'000'000'000U});
  expect_round_trip(brain, "i64", std::int64_t{-9'000'000'000'000'000'000LL});
  expect_round_trip(brain, "u64", std::uint64_t{18'000'000'000'000'000'000ULL});
  expect_round_trip(brain, "f32", 0.25F);
  expect_round_trip(brain, "f64", 0.001);
  expect_round_trip(brain, "c64", std::complex<float>(1.5F, -2.0F));
  expect_round_trip(brain, "c128", std::complex<double>(-1e300, 3.0));
  expect_round_trip(brain, "text", std::string("mouse-7 \xe2\x9c\x93"));
  expect_round_trip(brain, "empty", std::string());
  brain.set("literal", "a string literal");
  EXPECT_EQ(brain.get<std::string>("literal"), "a string literal");
  const std::vector<std::byte> raw{std::byte{0}, std::byte{255}, std::byte{7}};
  brain.set_bytes("raw", raw, "three bytes");
  EXPECT_EQ(brain.get_bytes("raw"), raw);
  EXPECT_EQ(brain.metadata("raw").type, ValueType::bytes);
}

TEST(BrainTest, ArraysRoundTripInCOrder) {
  TestStore store(16 << 20);
  Brain brain(store.client(), "exp");
  expect_round_trip(brain, "trace", std::vector<double>{1.0, 2.5, -3.0});
  expect_round_trip(brain, "no-samples", std::vector<std::int32_t>{});

  xt::xarray<std::uint16_t> frames = xt::arange<std::uint16_t>(2 * 3 * 4);
  frames.reshape({2, 3, 4});
  brain.set("frames", frames);
  EXPECT_EQ(brain.get<xt::xarray<std::uint16_t>>("frames"), frames);
  const auto as_rank3 = brain.get<xt::xtensor<std::uint16_t, 3>>("frames");
  EXPECT_EQ(as_rank3, frames);

  // A strided view and a column-major array are stored in C order, so any
  // reader (numpy included) sees the same elements at the same indices.
  const auto column = xt::view(frames, xt::all(), xt::all(), 1);
  brain.set("column", column);
  EXPECT_EQ(brain.get<xt::xarray<std::uint16_t>>("column"), xt::xarray<std::uint16_t>(column));
  xt::xarray<float, xt::layout_type::column_major> fortran = {{1.0F, 2.0F, 3.0F}, {4.0F, 5.0F, 6.0F}};
  brain.set("fortran", fortran);
  const auto back = brain.get_array<float>("fortran");
  EXPECT_EQ(back.shape(), (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(std::vector<float>(back.data(), back.data() + back.size()),
            (std::vector<float>{1.0F, 2.0F, 3.0F, 4.0F, 5.0F, 6.0F}));

  // Larger than one inline message: created in shared memory, then bound.
  xt::xarray<double> big = xt::arange<double>(256 * 1024);
  big.reshape({512, 512});
  brain.set("big", big);
  EXPECT_EQ(brain.get<xt::xarray<double>>("big"), big);
}

TEST(BrainTest, ArrayViewsAreZeroCopyAndReadOnly) {
  TestStore store(16 << 20);
  Brain brain(store.client(), "exp");
  xt::xarray<std::int32_t> image = xt::arange<std::int32_t>(64 * 64);
  image.reshape({64, 64});
  brain.set("image", image);

  const ArrayValue<std::int32_t> view = brain.get_array<std::int32_t>("image");
  EXPECT_EQ(view.view(), image);
  EXPECT_EQ(view.info().dtype, Dtype::i4);
  // The elements are the store's own shared memory, mapped read-only.
  const std::string mapping = mapping_of(view.data());
  EXPECT_NE(mapping.find("memfd:shmkit-store"), std::string::npos) << mapping;
  EXPECT_EQ(mapping.find("r--s"), mapping.find(' ') + 1) << mapping;
  const ObjectBuffer buffer = brain.get_buffer("image");
  EXPECT_EQ(static_cast<const void*>(buffer.data().data()), static_cast<const void*>(view.data()));

  // The view keeps the old value while the name moves on.
  brain.set("image", xt::xarray<std::int32_t>{{1, 2}});
  EXPECT_EQ(view.view(), image);
  EXPECT_EQ(brain.get<xt::xarray<std::int32_t>>("image"), (xt::xarray<std::int32_t>{{1, 2}}));

  brain.set("scalar", 5.0F);
  const ArrayValue<float> zero_d = brain.get_array<float>("scalar");
  EXPECT_EQ(zero_d.size(), 1U);
  EXPECT_EQ(*zero_d.data(), 5.0F);
}

TEST(BrainTest, ConfigStructsRoundTrip) {
  TestStore store(4 << 20);
  Brain brain(store.client(), "exp");
  Rig rig;
  rig.animal = "mouse-9";
  rig.camera.exposure_us = 2500;
  rig.camera.roi = {8, 8, 256, 256};
  rig.camera.trigger = Trigger::external;
  rig.gains["blue"] = 0.5;
  brain.set("rig", rig, "today's rig");
  EXPECT_EQ(brain.get<Rig>("rig"), rig);
  const ValueInfo info = brain.metadata("rig");
  EXPECT_EQ(info.type, ValueType::config);
  EXPECT_EQ(info.type_name, "shmkit::testing::Rig");
  // The object holds the YAML a person can read.
  const std::vector<std::byte> yaml = brain.get_bytes("rig");
  EXPECT_NE(as_text(yaml).find("animal: mouse-9"), std::string::npos);
}

// A config struct keeps a binary image beside its YAML; a reader of the
// same layout reads the image (no YAML parse), any other reader the YAML,
// and both give the same value.
TEST(BrainTest, ConfigStructsAreReadFromTheirImage) {
  static_assert(detail::kHasImage<Stats> && detail::kHasImage<Spot> && detail::kHasImage<Rig> &&
                detail::kHasImage<Camera> && detail::kHasImage<Session>);
  TestStore store(4 << 20);
  Brain brain(store.client(), "exp");
  const Stats stats{.frame = 1u << 20, .mean = 0.1, .peak = 65535, .saturated = true, .spot = {2.5F, -3}, .scratch = 9};
  brain.set("stats", stats);
  const auto got = brain.get<Stats>("stats");
  EXPECT_EQ(got.frame, stats.frame);
  EXPECT_EQ(got.mean, stats.mean);
  EXPECT_EQ(got.peak, stats.peak);
  EXPECT_TRUE(got.saturated);
  EXPECT_EQ(got.spot.x, 2.5F);
  EXPECT_EQ(got.spot.y, -3);
  EXPECT_EQ(got.scratch, 7U);  // excluded: the default, as from the YAML
  const ObjectBuffer buffer = brain.get_buffer("stats");
  const std::optional<detail::StructImage> image = detail::find_struct_image(buffer.metadata());
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->fingerprint, detail::image_fingerprint<Stats>());
  EXPECT_EQ(image->bytes.size(), 8U + 8 + 2 + 1 + 4 + 4);
  EXPECT_NE(as_text(buffer.data()).find("frame: 1048576"), std::string::npos);  // the YAML is the value

  // Objects whose YAML says frame 1 and whose image (if any) says frame 2:
  // only a matching image is used, anything else falls back to the YAML.
  StoreClient client = store.client();
  Stats two;
  two.frame = 2;
  const std::vector<std::byte> good = detail::image_of(two);
  const auto put = [&](const std::string& name, std::uint64_t fingerprint, std::span<const std::byte> bytes) {
    ValueInfo info;
    info.type = ValueType::config;
    info.type_name = boost::core::type_name<Stats>();
    std::vector<std::byte> metadata = detail::encode_value_metadata(info);
    if (fingerprint != 0) {
      detail::append_struct_image(metadata, fingerprint, bytes);
    }
    const ObjectId id = oid(name);
    client.create_and_seal(id, as_bytes("frame: 1\n"), metadata);
    client.put_name("exp", name, id);
  };
  put("matching", detail::image_fingerprint<Stats>(), good);
  put("yaml-only", 0, {});  // as Python writes a dict with a type name
  put("other-layout", detail::image_fingerprint<Stats>() ^ 1, good);
  put("short", detail::image_fingerprint<Stats>(), std::span(good).first(good.size() - 1));
  std::vector<std::byte> longer = good;
  longer.push_back(std::byte{0});
  put("long", detail::image_fingerprint<Stats>(), longer);
  EXPECT_EQ(brain.get<Stats>("matching").frame, 2U);
  for (const char* name : {"yaml-only", "other-layout", "short", "long"}) {
    EXPECT_EQ(brain.get<Stats>(name).frame, 1U) << name;
  }
}

// Structs with text, optionals, lists, maps, enums and durations have an
// image too, and it gives what the YAML gives.
TEST(BrainTest, StructImagesHoldEveryFieldKind) {
  TestStore store(4 << 20);
  Brain brain(store.client(), "exp");
  Session session;
  session.weight_g = 21.5;
  session.rig.reset();
  session.spares[1].trigger = Trigger::internal;
  session.spares[1].roi[3] = 7;
  brain.set("session", session);
  EXPECT_EQ(brain.get<Session>("session"), session);

  const ObjectBuffer buffer = brain.get_buffer("session");
  const std::optional<detail::StructImage> image = detail::find_struct_image(buffer.metadata());
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->fingerprint, detail::image_fingerprint<Session>());
  const std::optional<Session> from_image = detail::from_image<Session>(image->bytes);
  ASSERT_TRUE(from_image.has_value());
  EXPECT_EQ(*from_image, session);
  EXPECT_EQ(from_yaml_string<Session>(as_text(buffer.data())), session);  // the YAML agrees
  // Two layouts that differ in one field's kind, name or an enumerator do
  // not share a fingerprint.
  EXPECT_NE(detail::image_fingerprint<Session>(), detail::image_fingerprint<Rig>());
  EXPECT_NE(detail::image_fingerprint<Camera>(), detail::image_fingerprint<Spot>());
}

// An image is read from shared memory another client wrote: any bytes give
// a value or nothing (then the YAML is read), never a read past the end or
// an allocation a count in the bytes asks for.
TEST(BrainTest, DamagedStructImagesGiveNothingOrAValue) {
  Session session;
  session.weight_g = 3;
  const std::vector<std::byte> image = detail::image_of(session);
  ASSERT_TRUE(detail::from_image<Session>(image).has_value());
  for (std::size_t size = 0; size < image.size(); ++size) {
    EXPECT_FALSE(detail::from_image<Session>(std::span(image).first(size)).has_value()) << size;
  }
  std::vector<std::byte> huge_count = image;
  const std::uint64_t count = std::uint64_t{1} << 60;
  std::memcpy(huge_count.data(), &count, sizeof count);  // the animal's length
  EXPECT_FALSE(detail::from_image<Session>(huge_count).has_value());
  std::mt19937 random(11);
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::byte> bytes = image;
    for (int flips = 0; flips < 3; ++flips) {
      bytes[random() % bytes.size()] = static_cast<std::byte>(random());
    }
    (void)detail::from_image<Session>(bytes);
  }
}

// The image is found only where it belongs, and any bytes give nothing or
// a span inside the metadata.
TEST(BrainTest, StructImagesAreBoundsChecked) {
  Stats stats;
  const std::vector<std::byte> image = detail::image_of(stats);
  ValueInfo info;
  info.type = ValueType::config;
  info.type_name = "shmkit::testing::Stats";
  info.description = "with a description";
  std::vector<std::byte> metadata = detail::encode_value_metadata(info);
  const std::size_t plain = metadata.size();
  detail::append_struct_image(metadata, 42, image);
  ASSERT_TRUE(detail::find_struct_image(metadata).has_value());
  EXPECT_EQ(detail::find_struct_image(metadata)->fingerprint, 42U);
  for (std::size_t size = 0; size < metadata.size(); ++size) {
    const std::span<const std::byte> cut = std::span(metadata).first(size);
    EXPECT_EQ(detail::find_struct_image(cut).has_value(), false) << size << " of " << metadata.size();
  }
  EXPECT_FALSE(detail::find_struct_image(std::span(metadata).first(plain)).has_value());
  std::mt19937 random(7);
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::byte> bytes = metadata;
    for (int flips = 0; flips < 3; ++flips) {
      bytes[random() % bytes.size()] = static_cast<std::byte>(random());
    }
    if (const auto found = detail::find_struct_image(bytes)) {
      EXPECT_GE(found->bytes.data(), bytes.data());
      EXPECT_LE(found->bytes.data() + found->bytes.size(), bytes.data() + bytes.size());
    }
  }
}

TEST(BrainTest, WrongTypesAreTypeErrorsNamingBothTypes) {
  TestStore store(4 << 20);
  Brain brain(store.client(), "exp");
  brain.set("rate", 30.0);
  brain.set("name", std::string("x"));
  brain.set("frames", xt::xarray<std::uint16_t>::from_shape({2, 3, 4}));
  brain.set("rig", Rig{});

  EXPECT_TRUE(throws_with<TypeError>([&] { (void)brain.get<std::int32_t>("rate"); },
                                     {"'rate'", "'exp'", "float64 scalar", "int32 scalar"}));
  EXPECT_TRUE(throws_with<TypeError>([&] { (void)brain.get<float>("rate"); }, {"float64 scalar", "float32 scalar"}));
  EXPECT_TRUE(throws_with<TypeError>([&] { (void)brain.get<std::string>("frames"); },
                                     {"uint16 array of shape (2, 3, 4)", "string"}));
  EXPECT_TRUE(
      throws_with<TypeError>([&] { (void)brain.get_array<float>("frames"); }, {"uint16 array", "float32 array"}));
  EXPECT_TRUE(throws_with<TypeError>([&] { (void)brain.get<xt::xtensor<std::uint16_t, 2>>("frames"); },
                                     {"shape (2, 3, 4)", "2 dimension"}));
  EXPECT_TRUE(throws_with<TypeError>([&] { (void)brain.get<std::vector<std::uint16_t>>("frames"); },
                                     {"uint16 array", "1 dimension"}));
  EXPECT_TRUE(throws_with<TypeError>([&] { (void)brain.get<Other>("rig"); },
                                     {"config shmkit::testing::Rig", "config shmkit::testing::Other"}));
  EXPECT_TRUE(throws_with<TypeError>([&] { (void)brain.get<Rig>("name"); }, {"string", "config"}));
  EXPECT_TRUE(throws_with<TypeError>([&] { (void)brain.get<double>("name"); }, {"string", "float64 scalar"}));
  // TypeError is a LayoutError: a dtype mismatch, as for shared arrays.
  EXPECT_THROW((void)brain.get<double>("frames"), LayoutError);
  // Nothing was changed by the failed reads.
  EXPECT_EQ(brain.get<double>("rate"), 30.0);
}

TEST(BrainTest, UntypedObjectsReadAsBytes) {
  TestStore store(4 << 20);
  StoreClient client = store.client();
  client.create_and_seal(oid("plain"), as_bytes("raw payload"), as_bytes("foreign metadata"));
  client.put_name("exp", "plain", oid("plain"));
  Brain brain(store.client(), "exp");
  EXPECT_EQ(brain.metadata("plain").type, ValueType::bytes);
  EXPECT_EQ(as_text(brain.get_bytes("plain")), "raw payload");
  EXPECT_TRUE(throws_with<TypeError>([&] { (void)brain.get<std::string>("plain"); }, {"bytes", "string"}));
}

TEST(BrainTest, MetadataTellsTypeSizeCreatorTimeAndDescription) {
  TestStore store(4 << 20);
  Brain brain(store.client(), "exp");
  const auto before = std::chrono::system_clock::now();
  brain.set("frames", xt::xarray<std::uint16_t>::from_shape({4, 8}), "dark frames");
  const auto after = std::chrono::system_clock::now();
  const ValueInfo info = brain.metadata("frames");
  EXPECT_EQ(info.type, ValueType::array);
  EXPECT_EQ(info.dtype, Dtype::u2);
  EXPECT_EQ(info.shape, (std::vector<std::size_t>{4, 8}));
  EXPECT_EQ(info.size, 4U * 8U * 2U);
  EXPECT_EQ(info.description, "dark frames");
  EXPECT_EQ(info.creator_pid, ::getpid());
  const auto as_ns = [](auto t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  };
  EXPECT_GE(info.created_unix_ns, as_ns(before));
  EXPECT_LE(info.created_unix_ns, as_ns(after));
  EXPECT_EQ(info.type_text(), "uint16 array of shape (4, 8)");
  EXPECT_EQ(brain.client().find_name("exp", "frames"), info.id);
  EXPECT_THROW((void)brain.metadata("missing"), NotFoundError);
}

// A set encodes its metadata into a buffer its thread reuses: what one set
// wrote (a longer description, a struct image) must not reach the next,
// and threads setting at once must not share it.
TEST(BrainTest, EachSetCarriesOnlyItsOwnMetadata) {
  TestStore store(4 << 20);
  Brain brain(store.client(), "exp");
  brain.set("rig", Rig{}, std::string(300, 'd'));
  brain.set_bytes("raw", as_bytes("abc"), "short");
  brain.set("gain", 1.5);
  const ValueInfo raw = brain.metadata("raw");
  EXPECT_EQ(raw.type, ValueType::bytes);
  EXPECT_EQ(raw.description, "short");
  EXPECT_EQ(brain.metadata("gain").description, "");
  EXPECT_EQ(brain.metadata("rig").description, std::string(300, 'd'));
  const auto metadata_of = [&](const std::string& name) {
    const std::optional<ObjectId> id = brain.client().find_name("exp", name);
    EXPECT_TRUE(id.has_value()) << name;
    const std::optional<ObjectBuffer> buffer =
        brain.client().get(id.value_or(ObjectId{}), std::chrono::milliseconds(0));
    EXPECT_TRUE(buffer.has_value()) << name;
    if (!buffer) {
      return std::vector<std::byte>{};
    }
    return std::vector<std::byte>(buffer->metadata().begin(), buffer->metadata().end());
  };
  EXPECT_TRUE(detail::find_struct_image(metadata_of("rig")).has_value());
  EXPECT_FALSE(detail::find_struct_image(metadata_of("raw")).has_value());
  EXPECT_EQ(brain.get<Rig>("rig"), Rig{});

  constexpr int kThreads = 4;
  constexpr int kSets = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&brain, t] {
      for (int i = 0; i < kSets; ++i) {
        const std::string tag =
            std::to_string(t) + "/" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 7), '+');
        brain.set("thread-" + std::to_string(t), static_cast<std::int64_t>(i), tag);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    const std::string name = "thread-" + std::to_string(t);
    const std::int64_t last = kSets - 1;
    EXPECT_EQ(brain.get<std::int64_t>(name), last);
    EXPECT_EQ(brain.metadata(name).description,
              std::to_string(t) + "/" + std::to_string(last) + std::string(static_cast<std::size_t>(last % 7), '+'));
  }
}

TEST(BrainTest, MapOperationsStayInTheirNamespace) {
  TestStore store(4 << 20);
  Brain brain(store.client(), "exp");
  Brain other(store.client(), "exp1");
  brain.set("a", 1);
  brain.set("b", 2);
  brain.set("ab", 3);
  other.set("a", 100);
  EXPECT_TRUE(brain.contains("a"));
  EXPECT_FALSE(brain.contains("c"));
  EXPECT_EQ(brain.size(), 3U);
  EXPECT_EQ(brain.names(), (std::vector<std::string>{"a", "ab", "b"}));
  EXPECT_EQ(brain.names("a"), (std::vector<std::string>{"a", "ab"}));
  EXPECT_EQ(other.get<int>("a"), 100);
  EXPECT_TRUE(brain.erase("a"));
  EXPECT_FALSE(brain.erase("a"));
  EXPECT_FALSE(brain.contains("a"));
  EXPECT_EQ(other.get<int>("a"), 100);
  brain.set_namespace("exp1");
  EXPECT_EQ(brain.current_namespace(), "exp1");
  EXPECT_EQ(brain.get<int>("a"), 100);
  EXPECT_THROW(brain.set_namespace("bad/ns"), NameError);
  EXPECT_THROW(brain.set("bad name", 1), NameError);
  brain.set_namespace("exp");
  EXPECT_EQ(brain.clear(), 2U);
  EXPECT_EQ(brain.size(), 0U);
  EXPECT_EQ(other.size(), 1U);
  EXPECT_EQ(brain.capacity(), std::uint64_t{4} << 20);
  EXPECT_EQ(brain.used() + brain.free(), brain.capacity());
}

TEST(BrainTest, SetManyAndGetMany) {
  TestStore store(16 << 20);
  Brain brain(store.client(), "exp");
  std::vector<NamedValue> values;
  for (int i = 0; i < 50; ++i) {
    values.emplace_back("v" + std::to_string(i), static_cast<double>(i) / 4, "value " + std::to_string(i));
  }
  values.emplace_back("label", std::string("mixed types"));
  values.emplace_back("big", xt::xarray<std::uint8_t>::from_shape({300, 1000}));
  brain.set_many(values);
  std::vector<std::string> names;
  for (int i = 0; i < 50; ++i) {
    names.push_back("v" + std::to_string(i));
  }
  const std::vector<double> got = brain.get_many<double>(names);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(got[static_cast<std::size_t>(i)], static_cast<double>(i) / 4);
  }
  EXPECT_EQ(brain.metadata("v7").description, "value 7");
  EXPECT_EQ(brain.get<std::string>("label"), "mixed types");
  EXPECT_EQ(brain.get_array<std::uint8_t>("big").size(), 300U * 1000U);

  // One bad name fails on its own; the others are still set.
  std::vector<NamedValue> partly_bad;
  partly_bad.emplace_back("good", 1);
  partly_bad.emplace_back(".bad", 2);
  EXPECT_THROW(brain.set_many(partly_bad), NameError);
}

TEST(BrainTest, MissingValuesAreNotFoundOrTimeouts) {
  TestStore store(4 << 20);
  Brain brain(store.client(), "exp");
  EXPECT_TRUE(throws_with<NotFoundError>([&] { (void)brain.get<double>("rate"); }, {"'rate'", "not set"}));
  EXPECT_TRUE(throws_with<TimeoutError>([&] { (void)brain.get<double>("rate", 20ms); }, {"rate", "20 ms"}));
  EXPECT_EQ(brain.try_get<double>("rate"), std::nullopt);
  brain.set("rate", 2.0);
  EXPECT_EQ(brain.try_get<double>("rate"), 2.0);
}

TEST(BrainTest, ValuesCrossProcessesAndBlockingGetWakes) {
  TestStore store(16 << 20);
  Brain brain(store.client(), "rig");
  Signal parent_waiting;
  Child setter([&] {
    Brain mine = Brain::connect(store.path(), "rig");
    Rig rig;
    rig.animal = "from child";
    mine.set("rig", rig);
    mine.set("frames", xt::xarray<std::uint16_t>{{1, 2}, {3, 4}});
    require(parent_waiting.wait(), "parent blocked");
    mine.set("late", 42.5);
  });
  const pid_t setter_pid = setter.pid();
  EXPECT_EQ(brain.get<Rig>("rig", 10s).animal, "from child");
  EXPECT_EQ(brain.get<xt::xarray<std::uint16_t>>("frames", 10s), (xt::xarray<std::uint16_t>{{1, 2}, {3, 4}}));
  parent_waiting.notify();
  EXPECT_EQ(brain.get<double>("late", 30s), 42.5);
  ASSERT_TRUE(exited_ok(setter.wait()));
  EXPECT_EQ(brain.metadata("late").creator_pid, setter_pid);
}

// The names every client reads without asking the server come from a
// memfd no client can map writable, so no client can redirect another's
// lookups.
TEST(BrainTest, TheSharedNameIndexCannotBeWrittenByClients) {
  TestStore store(4 << 20);
  Brain brain(store.client(), "exp");
  brain.set("x", 1);
  int index_fd = -1;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (target.find("memfd:shmkit-store-names") != std::string::npos) {
      index_fd = std::stoi(entry.path().filename().string());
    }
  }
  ASSERT_GE(index_fd, 0) << "the client holds the name index descriptor";
  void* writable = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, index_fd, 0);
  EXPECT_EQ(writable, MAP_FAILED);
  EXPECT_EQ(errno, EPERM);
  const char junk[8] = {};
  EXPECT_EQ(::pwrite(index_fd, junk, sizeof(junk), 0), -1);
  EXPECT_EQ(::ftruncate(index_fd, 0), -1);
  EXPECT_EQ(brain.get<int>("x"), 1);
}

TEST(BrainTest, LongNamesBypassTheSharedIndexAndStillWork) {
  TestStore store(4 << 20);
  const std::string ns(100, 'n');
  const std::string name(150, 'x');
  Brain brain(store.client(), ns);
  brain.set(name, 7);
  Child reader([&] {
    Brain mine = Brain::connect(store.path(), ns);
    require(mine.contains(name), "long name visible");
    require(mine.get<int>(name) == 7, "long name readable");
    mine.set(name, 8);
  });
  ASSERT_TRUE(exited_ok(reader.wait()));
  EXPECT_EQ(brain.get<int>(name), 8);
  EXPECT_TRUE(brain.erase(name));
  EXPECT_FALSE(brain.contains(name));
}

// Two processes replace one name while two others read it: every read is a
// complete value of one writer, and the store ends holding only the last.
TEST(BrainTest, AtomicReplaceUnderLoad) {
  constexpr int kWrites = 10'000;
  TestStore store(8 << 20);
  Brain brain(store.client(), "load");
  const std::uint64_t baseline = brain.used();
  std::vector<Child> writers;
  for (std::uint32_t w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      Brain mine = Brain::connect(store.path(), "load");
      for (std::uint32_t i = 0; i < kWrites; ++i) {
        // 64 elements all equal to the same stamp: a torn read would mix two.
        mine.set("current", std::vector<std::uint32_t>(64, w * 1'000'000 + i));
      }
    });
  }
  Signal stop_readers;
  std::vector<Child> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      Brain mine = Brain::connect(store.path(), "load");
      std::uint64_t reads = 0;
      do {
        const auto value = mine.get_array<std::uint32_t>("current", 60s);
        require(value.size() == 64, "complete value");
        for (std::size_t k = 1; k < 64; ++k) {
          require(value.data()[k] == value.data()[0], "a torn or freed value was read");
        }
        require(value.data()[0] % 1'000'000 < kWrites, "a value some writer set");
        ++reads;
      } while (!stop_readers.wait(0ms));
      require(reads > 0, "read something");
    });
  }
  for (Child& writer : writers) {
    ASSERT_TRUE(exited_ok(writer.wait(std::chrono::seconds(240))));
  }
  stop_readers.notify();
  stop_readers.notify();
  for (Child& reader : readers) {
    ASSERT_TRUE(exited_ok(reader.wait()));
  }
  const auto last = brain.get<std::vector<std::uint32_t>>("current");
  EXPECT_TRUE(last[0] == kWrites - 1 || last[0] == 1'000'000 + kWrites - 1) << last[0];
  EXPECT_TRUE(eventually([&] { return brain.client().list().size() == 1; }));
  EXPECT_GT(brain.used(), baseline);
  EXPECT_LT(brain.used(), baseline + 1024);
}

}  // namespace
}  // namespace shmkit::testing
