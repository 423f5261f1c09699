#include "tests/e2e/e2e_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <random>
#include <thread>

namespace keyward::e2e {

Json Body(const testing::HttpReply& r) {
  auto j = ParseJson(r.body);
  return j.has_value() ? *j : Json();
}

std::string ErrorCode(const testing::HttpReply& r) {
  const Json b = Body(r);
  if (!b.is_object() || !b.contains("error") || !b["error"].contains("code") ||
      !b["error"]["code"].is_string())
    return "";
  return b["error"]["code"].get<std::string>();
}

std::string ErrorMessage(const testing::HttpReply& r) {
  const Json b = Body(r);
  if (!b.is_object() || !b.contains("error") || !b["error"].contains("message") ||
      !b["error"]["message"].is_string()) {
    return "";
  }
  return b["error"]["message"].get<std::string>();
}

Json Ref(const std::string& provider, const std::string& scope, const std::string& key) {
  return {{"provider", provider}, {"scope", scope}, {"key", key}};
}

std::string ResolveBody(const std::string& fabric, const std::vector<Json>& secrets) {
  Json body = Json::object();
  body["fabric"] = fabric;
  body["secrets"] = Json::array();
  for (const Json& s : secrets) body["secrets"].push_back(s);
  return body.dump();
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // The pace of the polling, not an assumption about how long anything takes.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::uint64_t TestSeed() {
  if (const char* s = std::getenv("KEYWARD_TEST_SEED"); s != nullptr && *s != '\0')
    return std::strtoull(s, nullptr, 10);
  return (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
}

std::int64_t CheckpointSize(const std::string& note) {
  const std::size_t first = note.find('\n');
  if (first == std::string::npos) return -1;
  const std::size_t second = note.find('\n', first + 1);
  if (second == std::string::npos) return -1;
  const std::string line = note.substr(first + 1, second - first - 1);
  if (line.empty() || line.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(line);
}

std::optional<testing::HttpReply> ParseReply(const std::string& bytes) {
  const std::size_t end = bytes.find("\r\n\r\n");
  if (end == std::string::npos || bytes.compare(0, 9, "HTTP/1.1 ") != 0 || end < 12) return std::nullopt;
  testing::HttpReply reply;
  reply.status = std::stoi(bytes.substr(9, 3));
  std::size_t pos = bytes.find("\r\n") + 2;
  while (pos < end) {
    std::size_t eol = bytes.find("\r\n", pos);
    if (eol == std::string::npos || eol > end) eol = end;
    const std::string line = bytes.substr(pos, eol - pos);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      reply.headers[name] = value;
    }
    pos = eol + 2;
  }
  const std::size_t length =
      reply.headers.count("content-length") ? std::stoul(reply.headers["content-length"]) : 0;
  if (bytes.size() < end + 4 + length) return std::nullopt;
  reply.body = bytes.substr(end + 4, length);
  return reply;
}

std::optional<RawSocket> RawSocket::Connect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return std::nullopt;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return RawSocket(fd);
}

RawSocket::RawSocket(RawSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

RawSocket& RawSocket::operator=(RawSocket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

RawSocket::~RawSocket() { Close(); }

void RawSocket::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawSocket::Send(std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

namespace {

// Reads into d until `enough` says so, the peer closes, or the deadline passes.
void ReadInto(int fd, RawSocket::Drained& d, std::chrono::milliseconds bound,
              const std::function<bool()>& enough) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  char buf[16384];
  while (!enough()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      d.bytes.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    d.closed = true;
    d.reset = n < 0 && errno == ECONNRESET;
    return;
  }
}

}  // namespace

RawSocket::Drained RawSocket::ReadUntilClosed(std::chrono::milliseconds bound) {
  Drained d;
  ReadInto(fd_, d, bound, [] { return false; });
  return d;
}

RawSocket::Drained RawSocket::ReadReply(std::chrono::milliseconds bound) {
  Drained d;
  ReadInto(fd_, d, bound, [&] { return ParseReply(d.bytes).has_value(); });
  return d;
}

}  // namespace keyward::e2e
