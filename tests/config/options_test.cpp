// The option structs of the other modules are described structs: each one
// round trips through YAML, loads from a file written by hand, keeps the
// callbacks a file cannot hold, and rejects bad values with the key path.

#include <shmkit/array/options.hpp>
#include <shmkit/array/shared_array.hpp>
#include <shmkit/config/yaml_config.hpp>
#include <shmkit/core/error.hpp>
#include <shmkit/logger/options.hpp>
#include <shmkit/store/store_options.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "test_support.hpp"

namespace {

using namespace std::chrono_literals;
using shmkit::ArrayOptions;
using shmkit::ConfigError;
using shmkit::DataLoggerOptions;
using shmkit::FsyncPolicy;
using shmkit::FullPolicy;
using shmkit::LogWriterOptions;
using shmkit::StoreOptions;
using shmkit::testing::contains;
using shmkit::testing::throws_with;

// --- array --------------------------------------------------------------------

TEST(OptionsTest, ArrayOptionsRoundTrip) {
  const ArrayOptions<float> options{.exist_ok = true, .mode = 0640, .fill = 2.5F, .unlink_on_close = true};
  const std::string text = shmkit::to_yaml_string(options);
  EXPECT_EQ(text, "---\nexist_ok: true\nmode: 0640\nfill: 2.5\nunlink_on_close: true\n...\n");
  const auto again = shmkit::from_yaml_string<ArrayOptions<float>>(text);
  EXPECT_EQ(again.exist_ok, true);
  EXPECT_EQ(again.mode, 0640U);
  EXPECT_EQ(again.fill, 2.5F);
  EXPECT_EQ(again.unlink_on_close, true);

  // The fill has the element type: range-checked like any integer field.
  EXPECT_EQ(shmkit::from_yaml_string<ArrayOptions<std::int16_t>>("fill: -300\n").fill, -300);
  EXPECT_TRUE(
      throws_with<ConfigError>([] { (void)shmkit::from_yaml_string<ArrayOptions<std::uint8_t>>("fill: 300\n"); },
                               {"fill", "out of range", "0 to 255"}));
}

TEST(OptionsTest, LoadedArrayOptionsCreateTheArray) {
  const shmkit::testing::ScopedName name;
  const auto options = shmkit::from_yaml_string<ArrayOptions<std::int32_t>>("mode: 0640\nfill: 7\n");
  auto array = shmkit::SharedArray<std::int32_t>::create(name, {3}, options);
  EXPECT_EQ(array[2], 7);
  EXPECT_EQ(shmkit::testing::segment_mode(name), 0640U);
}

// --- logger -------------------------------------------------------------------

DataLoggerOptions filled_logger_options() {
  DataLoggerOptions options;
  options.max_writers = 3;
  options.ring_bytes = std::size_t{1} << 22;
  options.mode = 0660;
  options.fsync = FsyncPolicy::always;
  options.fsync_interval = 250ms;
  options.idle_sleep = 75us;
  options.reap_interval = 2s;
  options.file_buffer_bytes = 65536;
  options.remove_segment_on_destroy = false;
  return options;
}

void expect_same(const DataLoggerOptions& a, const DataLoggerOptions& b) {
  EXPECT_EQ(a.max_writers, b.max_writers);
  EXPECT_EQ(a.ring_bytes, b.ring_bytes);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.fsync, b.fsync);
  EXPECT_EQ(a.fsync_interval, b.fsync_interval);
  EXPECT_EQ(a.idle_sleep, b.idle_sleep);
  EXPECT_EQ(a.reap_interval, b.reap_interval);
  EXPECT_EQ(a.file_buffer_bytes, b.file_buffer_bytes);
  EXPECT_EQ(a.remove_segment_on_destroy, b.remove_segment_on_destroy);
}

TEST(OptionsTest, DataLoggerOptionsRoundTrip) {
  const DataLoggerOptions options = filled_logger_options();
  const std::string text = shmkit::to_yaml_string(options);
  EXPECT_EQ(text,
            "---\n"
            "max_writers: 3\n"
            "ring_bytes: 4194304\n"
            "mode: 0660\n"
            "fsync: always\n"
            "fsync_interval: 250\n"
            "idle_sleep: 75\n"
            "reap_interval: 2000\n"
            "file_buffer_bytes: 65536\n"
            "remove_segment_on_destroy: false\n"
            "...\n");
  expect_same(shmkit::from_yaml_string<DataLoggerOptions>(text), options);
  expect_same(shmkit::from_yaml_string<DataLoggerOptions>(shmkit::to_yaml_string(DataLoggerOptions{})),
              DataLoggerOptions{});
}

TEST(OptionsTest, LoadingKeepsTheCallbacks) {
  DataLoggerOptions logger;
  int logger_calls = 0;
  logger.on_error = [&](const std::string&) { ++logger_calls; };
  shmkit::update_from_yaml_string(logger, "fsync: none\n");
  EXPECT_EQ(logger.fsync, FsyncPolicy::none);
  ASSERT_TRUE(logger.on_error);
  logger.on_error("disk full");
  EXPECT_EQ(logger_calls, 1);

  StoreOptions store;
  int store_calls = 0;
  store.log = [&](std::string_view) { ++store_calls; };
  shmkit::update_from_yaml_string(store, "max_clients: 8\n");
  EXPECT_EQ(store.max_clients, 8U);
  ASSERT_TRUE(store.log);
  store.log("connect");
  EXPECT_EQ(store_calls, 1);

  // A callback is not a setting.
  EXPECT_TRUE(throws_with<ConfigError>([] { (void)shmkit::from_yaml_string<DataLoggerOptions>("on_error: x\n"); },
                                       {"unknown setting 'on_error'"}));
}

TEST(OptionsTest, LogWriterOptionsRoundTrip) {
  const LogWriterOptions options{.policy = FullPolicy::drop, .block_timeout = 30s};
  const std::string text = shmkit::to_yaml_string(options);
  EXPECT_EQ(text, "---\npolicy: drop\nblock_timeout: 30000\n...\n");
  const auto again = shmkit::from_yaml_string<LogWriterOptions>(text);
  EXPECT_EQ(again.policy, FullPolicy::drop);
  EXPECT_EQ(again.block_timeout, 30s);
}

TEST(OptionsTest, LoggerOptionErrorsNameTheSettingAndTheFix) {
  EXPECT_TRUE(throws_with<ConfigError>(
      [] { (void)shmkit::from_yaml_string<DataLoggerOptions>("max_writers: 4\nfsync: intervall\n"); },
      {"<string>:2:", "fsync", "'intervall' is not a valid choice", "none, interval, always",
       "did you mean 'interval'?"}));
  EXPECT_TRUE(
      throws_with<ConfigError>([] { (void)shmkit::from_yaml_string<DataLoggerOptions>("fsync_interval: 1s\n"); },
                               {"<string>:1:", "fsync_interval", "whole number of milliseconds", "'1s'"}));
  EXPECT_TRUE(throws_with<ConfigError>([] { (void)shmkit::from_yaml_string<DataLoggerOptions>("idle_sleep: 0.5\n"); },
                                       {"idle_sleep", "whole number of microseconds"}));
  EXPECT_TRUE(throws_with<ConfigError>([] { (void)shmkit::from_yaml_string<DataLoggerOptions>("mode: 0668\n"); },
                                       {"mode", "not an octal number"}));
  EXPECT_TRUE(throws_with<ConfigError>([] { (void)shmkit::from_yaml_string<LogWriterOptions>("polcy: drop\n"); },
                                       {"unknown setting 'polcy'", "did you mean 'policy'?"}));
}

// --- store --------------------------------------------------------------------

TEST(OptionsTest, StoreOptionsRoundTrip) {
  StoreOptions options;
  options.capacity = std::size_t{1} << 30;
  options.socket_path = "/run/rig/store.sock";
  options.socket_mode = 0660;
  options.allowed_uids = {1000, 1001};
  options.prefault = true;
  options.huge_pages = true;
  options.max_objects = 8192;
  options.max_names = 1000;
  options.persist_dir = "/var/lib/rig/names";
  options.persist_sync = true;
  options.spill_dir = "/var/tmp/rig spill";
  options.spin_us = 0;
  options.max_clients = 16;
  options.leases_per_client = 256;
  options.subscriber_queue = 64;
  const std::string text = shmkit::to_yaml_string(options);
  EXPECT_TRUE(contains(text,
                       "\ncapacity: 1073741824\nsocket_path: /run/rig/store.sock\nsocket_mode: 0660\n"
                       "allowed_uids:\n- 1000\n- 1001\nprefault: true\nhuge_pages: true\nmax_objects: 8192\n"
                       "max_names: 1000\npersist_dir: /var/lib/rig/names\npersist_sync: true\n"
                       "spill_dir: /var/tmp/rig spill\nspin_us: 0\n"))
      << text;
  const auto again = shmkit::from_yaml_string<StoreOptions>(text);
  EXPECT_EQ(again.capacity, options.capacity);
  EXPECT_EQ(again.socket_path, options.socket_path);
  EXPECT_EQ(again.socket_mode, options.socket_mode);
  EXPECT_EQ(again.allowed_uids, options.allowed_uids);
  EXPECT_EQ(again.prefault, options.prefault);
  EXPECT_EQ(again.huge_pages, options.huge_pages);
  EXPECT_EQ(again.max_objects, options.max_objects);
  EXPECT_EQ(again.max_names, options.max_names);
  EXPECT_EQ(again.persist_dir, options.persist_dir);
  EXPECT_EQ(again.persist_sync, options.persist_sync);
  EXPECT_EQ(again.spill_dir, options.spill_dir);
  EXPECT_EQ(again.spin_us, options.spin_us);
  EXPECT_EQ(again.max_clients, options.max_clients);
  EXPECT_EQ(again.leases_per_client, options.leases_per_client);
  EXPECT_EQ(again.subscriber_queue, options.subscriber_queue);
  // Saving what was loaded writes the same bytes.
  EXPECT_EQ(shmkit::to_yaml_string(again), text);
}

TEST(OptionsTest, StoreOptionErrors) {
  EXPECT_TRUE(throws_with<ConfigError>([] { (void)shmkit::from_yaml_string<StoreOptions>("capacity: 1G\n"); },
                                       {"<string>:1:", "capacity", "expected a whole number", "'1G'"}));
  EXPECT_TRUE(
      throws_with<ConfigError>([] { (void)shmkit::from_yaml_string<StoreOptions>("allowed_uids: [1000, -1]\n"); },
                               {"allowed_uids[1]", "out of range"}));
  EXPECT_TRUE(throws_with<ConfigError>([] { (void)shmkit::from_yaml_string<StoreOptions>("socket_mode: 0800\n"); },
                                       {"socket_mode", "not an octal number"}));
}

}  // namespace
