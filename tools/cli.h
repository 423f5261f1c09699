// Shared by the command-line tools: subcommand option parsing with Boost.Program_options and the exit
// codes every keyward tool documents. Header-only, so that each tool links only what it uses.
#pragma once

#include <boost/program_options.hpp>

#include <exception>
#include <functional>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "core/utf8.h"

namespace keyward::cli {

namespace po = boost::program_options;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;    // the checked thing is bad: invalid policy, failed case, damaged log
inline constexpr int kExitUsage = 2;     // bad usage, or an input that cannot be read
inline constexpr int kExitInternal = 3;  // a bug

// A subcommand's command line: `visible` options are listed in --help; `hidden` ones are positionals.
// Every command has --help; `json` adds --json.
class CommandLine {
 public:
  CommandLine(std::string program, bool json) : program_(std::move(program)) {
    visible.add_options()("help,h", "show this help");
    if (json) visible.add_options()("json", "print one JSON object instead of text");
  }

  po::options_description visible{"Options"};
  po::options_description hidden;
  po::positional_options_description positional;
  po::variables_map vm;

  // Returns false (after printing) for --help or a usage error, with the exit code in *exit_code.
  bool Parse(const std::vector<std::string>& args, const std::string& usage, int* exit_code) {
    po::options_description all;
    all.add(visible).add(hidden);
    try {
      po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
      if (vm.count("help")) {
        std::cout << usage << "\n" << visible << "\n";
        *exit_code = kExitOk;
        return false;
      }
      po::notify(vm);
    } catch (const po::error& e) {
      std::cerr << program_ << ": " << e.what() << "\n" << usage << "\nTry '" << program_ << " --help'.\n";
      *exit_code = kExitUsage;
      return false;
    }
    return true;
  }

  bool Has(const char* name) const { return vm.count(name) > 0; }
  bool json() const { return Has("json"); }
  template <typename T>
  T Get(const char* name) const {
    return vm[name].as<T>();
  }

 private:
  std::string program_;
};

using Subcommand = std::function<int(const std::vector<std::string>&)>;

// The main() of a tool made of subcommands: no arguments print `overview` to stderr (usage error);
// --help, -h and help print it to stdout; --version prints "PROGRAM VERSION"; a known subcommand runs
// with the remaining arguments; anything else is a usage error naming the subcommands. An exception
// that escapes a subcommand is a bug: reported, exit kExitInternal.
inline int RunSubcommands(int argc, char** argv, const std::string& program, const std::string& version,
                          const std::string& overview, const std::vector<std::pair<std::string, Subcommand>>& commands) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
      std::cerr << overview;
      return kExitUsage;
    }
    const std::string command = args.front();
    args.erase(args.begin());
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << overview;
      return kExitOk;
    }
    if (command == "--version") {
      std::cout << program << " " << version << "\n";
      return kExitOk;
    }
    std::string names;
    for (const auto& [name, run] : commands) {
      if (name == command) return run(args);
      names += (names.empty() ? "" : ", ") + name;
    }
    std::cerr << program << ": unknown command '" << Printable(command) << "' (expected " << names << ")\nTry '"
              << program << " --help'.\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error (please report): " << e.what() << "\n";
    return kExitInternal;
  }
}

// "1 provider", "2 providers": a count and its noun, for the tools' one-line summaries.
inline std::string Counted(std::size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace keyward::cli
