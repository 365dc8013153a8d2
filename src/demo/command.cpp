// shmkit demo [--config FILE] [--write-config FILE] [--out DIR] [--seconds S]
//
// The main job: a multi-process acquisition rig using every module. The
// parent runs a store server on a thread and the DataLogger, creates the
// frame ring and a counters array, and starts three worker processes:
//
//   camera     renders 512x512 uint16 frames at 30 Hz into the ring (each
//              write a seqlock write section), bumps the atomic frame
//              counter, logs every frame
//   behaviour  runs trials, publishing its settings (a config struct) and
//              its state by name in the store, logging every event
//   analysis   takes seqlock snapshots of the newest frame, computes the
//              spot's position, publishes the result by name and logs it
//
// Every process, the parent included, logs through its own LogWriter to
// its own source, starting with an onset entry. The settings are one
// described struct (YAML via the config module), published in the store,
// from which the workers read them. At the end the parent stops the
// workers and the logger, removes every shared segment, assembles one
// compressed archive per source, reads each back with LogArchiveReader and
// prints the summary; `summary.yaml` and the settings used (`demo.yaml`)
// are saved beside the archives.
//
// Exit status: 0 when every entry logged is in the archives and nothing was
// dropped; 1 when anything was lost, a check failed or a worker died;
// 128 + signal number after Ctrl-C or SIGTERM (the data logged until then
// is assembled and checked all the same; a second Ctrl-C skips assembly).

#include <shmkit/config/yaml_config.hpp>
#include <shmkit/core/error.hpp>

#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "demo/archives.hpp"
#include "demo/config.hpp"
#include "demo/demo.hpp"
#include "demo/processes.hpp"
#include "demo/rig.hpp"
#include "demo/summary.hpp"

namespace shmkit::cli {

namespace {

using namespace demo;  // NOLINT(google-build-using-namespace): the demo's names read better bare

std::filesystem::path make_output_directory(const std::optional<std::filesystem::path>& requested) {
  if (requested) {
    std::error_code ec;
    std::filesystem::create_directories(*requested, ec);
    if (ec) {
      throw Error("cannot create the demo's output directory '" + requested->string() + "': " + ec.message());
    }
    return std::filesystem::absolute(*requested);
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "shmkit-demo-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    detail::throw_errno("cannot create a directory for the demo's logs ('" + pattern + "')", errno,
                        "choose one with --out DIR");
  }
  return pattern;
}

std::optional<ArchiveOutcome> assemble_and_check(const RunRecord& record, const DemoConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  ArchiveOutcome outcome;
  outcome.report = assemble_archives(record.log_directory, config.logger.compression_level);
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::size_t pixels = std::size_t{config.camera.height} * config.camera.width;
  outcome.checks.push_back(check_archive(record.log_directory, config.logger.source_id, std::nullopt));
  outcome.checks.push_back(check_archive(record.log_directory, config.camera.source_id, pixels));
  outcome.checks.push_back(check_archive(record.log_directory, config.behaviour.source_id, std::nullopt));
  outcome.checks.push_back(check_archive(record.log_directory, config.analysis.source_id, std::nullopt));
  return outcome;
}

void run_demo(const DemoConfig& config) {
  // First: every thread started from here on inherits the blocked signals.
  RigSignals signals;
  const std::filesystem::path out = make_output_directory(config.out);
  to_yaml(config, out / "demo.yaml");  // the settings of this run, beside its data
  const RunRecord record = run_rig(config, out, signals);

  std::optional<ArchiveOutcome> archives;
  if (signals.interrupts() < 2) {
    // No shared segment is left: from here a Ctrl-C may end the process at
    // once, and re-running the assembly later is always safe.
    signals.release_interrupts();
    archives = assemble_and_check(record, config);
  }
  const DemoSummary summary = summarise(record, config, archives);
  print_summary(summary, std::cout);
  to_yaml(summary, out / "summary.yaml");
  std::cout << "summary: " << (out / "summary.yaml").string() << std::endl;
  if (!summary.ok) {
    std::string message = "the demo found " + std::to_string(summary.problems.size()) + " problem" +
                          (summary.problems.size() == 1 ? "" : "s") + ":";
    for (const std::string& problem : summary.problems) {
      message += "\n  " + problem;
    }
    throw Error(message);
  }
  if (signals.interrupts() > 0) {
    std::cout << "interrupted; what was logged until then is in the archives, nothing was dropped" << std::endl;
    throw ExitStatus(128 + signals.first_interrupt());
  }
  std::cout << "every entry logged is in the archives; nothing was dropped" << std::endl;
}

}  // namespace

void register_demo_command(CLI::App& app) {
  struct Args {
    std::string config_file;
    std::string write_config;
    std::string out;
    double seconds = 0;
    bool python = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Run a multi-process acquisition rig (camera, behaviour task, analysis) on every shmkit module");
  cmd->add_option("--config,-c", args->config_file,
                  "Read the settings from this YAML file; --out and --seconds override it");
  cmd->add_option("--write-config", args->write_config,
                  "Write the settings (defaults, or --config's, with overrides) to this YAML file and exit");
  cmd->add_option("--out,-o", args->out, "Directory for the logs and archives (default: a new one under /tmp)");
  cmd->add_option("--seconds,-t", args->seconds, "Seconds of acquisition")->check(CLI::PositiveNumber);
  cmd->add_flag("--python", args->python,
                "Run the analysis in Python (python3 -m shmkit.demo_analysis, using import shmkit): a mixed-language "
                "rig; the same as analysis.language: python");
  cmd->footer(
      "Ctrl-C (or SIGTERM) stops every process, saves and assembles what was logged and leaves nothing in\n"
      "/dev/shm; a second Ctrl-C skips the assembly. After a SIGKILL, 'shmkit gc' removes the segments left.\n"
      "Exit status: 0 when nothing was lost, 1 when anything was lost or failed, 128+N after signal N.");
  cmd->callback([cmd, args] {
    DemoConfig config;
    std::string origin = "the demo's settings";
    if (!args->config_file.empty()) {
      config = from_yaml<DemoConfig>(args->config_file);
      origin = args->config_file;
    }
    // What the command line says explicitly wins over the file.
    if (cmd->count("--seconds") > 0) {
      config.seconds = args->seconds;
    }
    if (cmd->count("--out") > 0) {
      config.out = args->out;
    }
    if (args->python) {
      config.analysis.language = "python";
    }
    check_config(config, origin);
    if (!args->write_config.empty()) {
      to_yaml(config, args->write_config);
      std::cout << "wrote the demo's settings to " << args->write_config << '\n';
      return;
    }
    run_demo(config);
  });
  register_worker_command(app);
}

}  // namespace shmkit::cli
