// Shared by the command-line tools: subcommand option parsing with Boost.Program_options and the exit
// codes every keyward tool documents. Header-only, so that each tool links only what it uses.
#pragma once

#include <boost/program_options.hpp>

#include <iostream>
#include <string>
#include <vector>

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

}  // namespace keyward::cli
