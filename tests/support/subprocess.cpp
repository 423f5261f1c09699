#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace keyward::testing {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "subprocess: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

// Starts argv[0] (a path) with argv, in options.cwd, with our environment plus options.env, its stdin
// from `in` (-1: /dev/null) and its stdout and stderr into `out` and `err`.
pid_t Spawn(const std::vector<std::string>& argv, const RunOptions& options, int in, int out, int err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (in < 0) {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  } else {
    posix_spawn_file_actions_adddup2(&actions, in, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, err, 2);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : options.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argp[0], &actions, nullptr, argp.data(), envp.data()) != 0) Die(argv[0].c_str());
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

}  // namespace

ProcessResult Run(const std::vector<std::string>& argv, const RunOptions& options) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) Die("pipe2");

  const pid_t pid = Spawn(argv, options, in[0], out[1], err[1]);
  close(in[0]);
  close(out[1]);
  close(err[1]);

  ProcessResult result;
  std::size_t written = 0;
  int in_fd = in[1];
  if (options.stdin_data.empty()) {
    close(in_fd);
    in_fd = -1;
  } else {
    fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    pollfd fds[3];
    nfds_t n = 0;
    if (out_open) fds[n++] = {out[0], POLLIN, 0};
    if (err_open) fds[n++] = {err[0], POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, n, static_cast<int>(left.count())) < 0 && errno != EINTR) Die("poll");
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        const ssize_t w = write(in_fd, options.stdin_data.data() + written, options.stdin_data.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 || written == options.stdin_data.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      const ssize_t r = read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        (fds[i].fd == out[0] ? result.out : result.err).append(buf, static_cast<std::size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        (fds[i].fd == out[0] ? out_open : err_open) = false;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  close(out[0]);
  close(err[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) Die("waitpid");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string ToolPath(const std::string& name) { return std::string(KEYWARD_BIN_DIR) + "/" + name; }
std::string SourcePath(const std::string& relative) { return std::string(KEYWARD_SOURCE_DIR) + "/" + relative; }

}  // namespace keyward::testing

#include <filesystem>


namespace keyward::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/keyward-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  const std::string p = path_ + "/" + name;
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) Die("open");
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t w = ::write(fd, content.data() + done, content.size() - done);
    if (w < 0) Die("write");
    done += static_cast<std::size_t>(w);
  }
  ::close(fd);
  return p;
}

}  // namespace keyward::testing

namespace keyward::testing {

Child Child::Start(const std::vector<std::string>& argv, const RunOptions& options) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) Die("pipe2");
  Child c;
  c.pid_ = Spawn(argv, options, -1, out[1], err[1]);
  close(out[1]);
  close(err[1]);
  c.out_fd_ = out[0];
  c.err_fd_ = err[0];
  fcntl(c.out_fd_, F_SETFL, O_NONBLOCK);
  fcntl(c.err_fd_, F_SETFL, O_NONBLOCK);
  return c;
}

Child::Child(Child&& o) noexcept
    : pid_(o.pid_), out_fd_(o.out_fd_), err_fd_(o.err_fd_), out_(std::move(o.out_)), consumed_(o.consumed_),
      err_(std::move(o.err_)), out_eof_(o.out_eof_), status_(o.status_) {
  o.pid_ = -1;
  o.out_fd_ = o.err_fd_ = -1;
}

Child::~Child() {
  if (pid_ > 0 && status_ < 0) {
    kill(pid_, SIGKILL);
    Wait();
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void Child::Pump(std::chrono::milliseconds timeout) {
  pollfd fds[2];
  nfds_t n = 0;
  if (!out_eof_) fds[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
  if (n == 0) return;
  if (poll(fds, n, static_cast<int>(timeout.count())) <= 0) return;
  char buf[65536];
  for (nfds_t i = 0; i < n; ++i) {
    if (fds[i].revents == 0) continue;
    for (;;) {
      const ssize_t r = read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        (fds[i].fd == out_fd_ ? out_ : err_).append(buf, static_cast<std::size_t>(r));
        continue;
      }
      if (r == 0) {
        if (fds[i].fd == out_fd_) {
          out_eof_ = true;
        } else {
          close(err_fd_);
          err_fd_ = -1;
        }
      }
      break;
    }
  }
}

std::optional<std::string> Child::ReadLine(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::size_t eol = out_.find('\n', consumed_);
    if (eol != std::string::npos) {
      std::string line = out_.substr(consumed_, eol - consumed_);
      consumed_ = eol + 1;
      return line;
    }
    if (out_eof_) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    Pump(left);
  }
}

std::string Child::err() {
  Pump(std::chrono::milliseconds(0));
  return err_;
}

void Child::Signal(int sig) {
  if (pid_ > 0 && status_ < 0) kill(pid_, sig);
}

int Child::Wait() {
  if (status_ >= 0) return status_;
  int st = 0;
  while (waitpid(pid_, &st, 0) < 0) {
    if (errno != EINTR) Die("waitpid");
  }
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  while (!out_eof_ || err_fd_ >= 0) Pump(std::chrono::milliseconds(1000));
  return status_;
}

}  // namespace keyward::testing
