// shmkit config show FILE
//
// Parses any YAML file and prints it back in shmkit's flavour (the flavour
// to_yaml writes and ataraxis' YamlConfig reads), so an operator can check a
// hand-edited rig configuration before a run: a syntax error is reported as
// "FILE:LINE:COLUMN: ..." with exit status 1.

#include <shmkit/config/yaml_node.hpp>

#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.hpp"

namespace shmkit::cli {

void register_config_command(CLI::App& app) {
  CLI::App* config = app.add_subcommand("config", "Check and print YAML configuration files");
  config->require_subcommand(1);

  auto file = std::make_shared<std::string>();
  CLI::App* show = config->add_subcommand("show", "Parse a YAML file and print it in shmkit's flavour");
  show->add_option("FILE", *file, "The YAML file (any extension)")->required();
  show->footer(
      "Values keep their meaning: quoted text stays text, plain numbers stay numbers. Comments and anchors\n"
      "are not printed. A syntax error is reported as FILE:LINE:COLUMN and exits with status 1.");
  show->callback([file] { std::cout << format_yaml_file(*file); });
}

}  // namespace shmkit::cli
