// Running the built binaries from tests: spawn, feed stdin, capture stdout and stderr, wait.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <map>
#include <string>
#include <vector>

namespace keyward::testing {

struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128 + signal number when killed by a signal
  std::string out;
  std::string err;
};

struct RunOptions {
  std::string stdin_data;
  std::map<std::string, std::string> env;  // added to (or replacing in) the test's environment
  std::string cwd;                          // empty = the test's working directory
  std::chrono::milliseconds timeout{60000}; // the child is killed (SIGKILL) when it runs longer
};

// Runs argv[0] (a path) with the arguments, and returns once it exits. Aborts the test binary if the
// process cannot be started.
ProcessResult Run(const std::vector<std::string>& argv, const RunOptions& options = {});

// Path of a built tool: "<build>/bin/<name>".
std::string ToolPath(const std::string& name);
// Path under the source tree.
std::string SourcePath(const std::string& relative);

}  // namespace keyward::testing

namespace keyward::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `content` to path()/name (mode 0600) and returns the full path.
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace keyward::testing

namespace keyward::testing {

// A child process that keeps running while the test talks to it: its stdout is read line by line, its
// stderr is collected. The child is killed (SIGKILL) and reaped on destruction if still running.
class Child {
 public:
  static Child Start(const std::vector<std::string>& argv, const RunOptions& options = {});
  Child(Child&& other) noexcept;
  Child& operator=(Child&&) = delete;
  Child(const Child&) = delete;
  ~Child();

  pid_t pid() const { return pid_; }
  // The next line of stdout (without "\n"), or nullopt at end of output or when `timeout` passes.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  // Everything the child wrote to stdout and stderr so far (stdout lines already read included).
  const std::string& out() const { return out_; }
  std::string err();
  void Signal(int sig);
  // Waits for the child to exit; returns the exit code, or 128 + signal.
  int Wait();

 private:
  Child() = default;
  void Pump(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::size_t consumed_ = 0;
  std::string err_;
  bool out_eof_ = false;
  int status_ = -1;
};

}  // namespace keyward::testing
