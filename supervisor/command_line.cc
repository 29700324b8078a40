#include "supervisor/command_line.h"

#include <string_view>

namespace shoal::supervisor {

const char* const kUsage =
    "Usage: shoal [--config FILE] [--cold] [--user NAME]\n"
    "       shoal --check-config FILE\n"
    "       shoal --print-config [--config FILE]\n"
    "       shoal --print-defaults | --version | --help\n"
    "A recursive DNS resolver for large ISP resolver farms.\n"
    "\n"
    "Without an option, shoal runs in the foreground on its built-in defaults\n"
    "(127.0.0.1:53, the IANA root hints and root trust anchors), logging to\n"
    "stderr; SIGTERM or SIGINT stops it.\n"
    "\n"
    "Options:\n"
    "  --config FILE        run with the configuration in FILE (TOML, see\n"
    "                       conf/shoal.toml)\n"
    "  --cold               start with an empty cache (discard the shared\n"
    "                       cache segment a previous run left)\n"
    "  --user NAME          run as user NAME once the ports are bound (as\n"
    "                       server.user; overrides it)\n"
    "  --check-config FILE  validate FILE (and the root hints and trust anchor\n"
    "                       files it names), then exit: 0 if it is valid, 1\n"
    "                       with the file, line and key of the mistake if not\n"
    "  --print-config       print the effective configuration (built-in\n"
    "                       defaults, or FILE given with --config) as TOML\n"
    "  --print-defaults     load and print the built-in root hints and root\n"
    "                       trust anchors, then exit (non-zero if they do not load)\n"
    "  --version            show the version and exit\n"
    "  --help               show this help and exit\n";

namespace {

/// Takes the value of `--name VALUE` or `--name=VALUE`.
bool takeValue(std::string_view arg, std::string_view name, int argc, char** argv, int& i,
               std::string& value, std::string& error) {
  if (arg == name) {
    if (i + 1 >= argc) {
      error = std::string(name) + " needs a file name";
      return false;
    }
    value = argv[++i];
    return true;
  }
  value = std::string(arg.substr(name.size() + 1));
  return true;
}

bool isOption(std::string_view arg, std::string_view name) {
  return arg == name || (arg.size() > name.size() && arg.substr(0, name.size()) == name &&
                         arg[name.size()] == '=');
}

}  // namespace

ParsedCommandLine parseCommandLine(int argc, char** argv) {
  ParsedCommandLine out;
  CommandLine command;
  std::optional<Mode> mode;
  bool have_config = false;
  auto setMode = [&](Mode m, std::string_view arg) {
    if (mode && *mode != m) {
      out.error = "'" + std::string(arg) + "' cannot be combined with the other options";
      return false;
    }
    mode = m;
    return true;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    bool ok = true;
    if (arg == "--help" || arg == "-h") {
      ok = setMode(Mode::kHelp, arg);
    } else if (arg == "--version") {
      ok = setMode(Mode::kVersion, arg);
    } else if (arg == "--print-defaults") {
      ok = setMode(Mode::kPrintDefaults, arg);
    } else if (arg == "--print-config") {
      ok = setMode(Mode::kPrintConfig, arg);
    } else if (arg == "--cold") {
      command.cold = true;
    } else if (isOption(arg, "--user")) {
      ok = takeValue(arg, "--user", argc, argv, i, command.user, out.error);
      if (ok && command.user.empty()) {
        out.error = "empty user name";
        return out;
      }
    } else if (isOption(arg, "--check-config")) {
      ok = setMode(Mode::kCheckConfig, arg) &&
           takeValue(arg, "--check-config", argc, argv, i, command.config_path, out.error);
      have_config = true;
    } else if (isOption(arg, "--config")) {
      if (have_config) {
        out.error = "the configuration file is given twice";
        return out;
      }
      ok = takeValue(arg, "--config", argc, argv, i, command.config_path, out.error);
      have_config = true;
    } else {
      out.error = "unknown option '" + std::string(arg) + "'";
      return out;
    }
    if (!ok) return out;
  }
  command.mode = mode.value_or(Mode::kRun);
  if (have_config && command.config_path.empty()) {
    out.error = "empty configuration file name";
    return out;
  }
  if (command.cold && command.mode != Mode::kRun) {
    out.error = "--cold only applies when running the resolver";
    return out;
  }
  if (!command.user.empty() && command.mode != Mode::kRun) {
    out.error = "--user only applies when running the resolver";
    return out;
  }
  if (have_config && command.mode != Mode::kRun && command.mode != Mode::kCheckConfig &&
      command.mode != Mode::kPrintConfig) {
    out.error = "--config only applies when running or printing the configuration";
    return out;
  }
  out.command = command;
  return out;
}

}  // namespace shoal::supervisor
