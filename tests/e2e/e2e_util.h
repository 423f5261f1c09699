// Small helpers shared by the end-to-end tests that misbehave on purpose (abuse, audit store faults,
// crashes): request bodies, reply bodies, bounded waits for a state, and a raw TCP connection for what
// no HTTP client would send (bytes one at a time, garbage, thousands of connections).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "tests/support/http_client.h"

namespace keyward::e2e {

// The JSON body of a reply; null when it is not JSON.
Json Body(const testing::HttpReply& r);
// body["error"]["code"] and ["message"] as strings ("" when absent).
std::string ErrorCode(const testing::HttpReply& r);
std::string ErrorMessage(const testing::HttpReply& r);

Json Ref(const std::string& provider, const std::string& scope, const std::string& key);
// A resolve request body. (A vector, not a braced Json: nlohmann reads a one-element brace list as the
// element itself.)
std::string ResolveBody(const std::string& fabric, const std::vector<Json>& secrets);

// Calls `done` until it returns true or `bound` passes; true when it did. For waiting for a state (a
// server that recovers, a checkpoint that gets signed), never for letting time pass.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds bound = std::chrono::seconds(30));

// A seed for randomised inputs: KEYWARD_TEST_SEED when set (to replay a failure), else a fresh one. Tests
// print the seed they used.
std::uint64_t TestSeed();

// The size line of a signed checkpoint note (origin, size, root, blank line, signatures); -1 if malformed.
std::int64_t CheckpointSize(const std::string& note);

// Parses one HTTP/1.1 response from the start of `bytes` (Content-Length bodies only). nullopt when the
// bytes hold no complete response.
std::optional<testing::HttpReply> ParseReply(const std::string& bytes);

// A raw loopback TCP connection (no TLS). Move-only; closes on destruction.
class RawSocket {
 public:
  // Blocking connect to 127.0.0.1:port; nullopt (with errno kept) when it fails.
  static std::optional<RawSocket> Connect(std::uint16_t port);
  RawSocket(RawSocket&& other) noexcept;
  RawSocket& operator=(RawSocket&& other) noexcept;
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  ~RawSocket();

  int fd() const { return fd_; }
  // Sends all of `bytes` (MSG_NOSIGNAL). False when the peer has closed or reset the connection.
  bool Send(std::string_view bytes);

  struct Drained {
    std::string bytes;    // everything received
    bool closed = false;  // the peer closed (EOF) or reset the connection
    bool reset = false;   // ... with a reset (ECONNRESET)
  };
  // Reads until the peer closes the connection or `bound` passes (then closed is false). The bound only
  // keeps a broken server from hanging the test.
  Drained ReadUntilClosed(std::chrono::milliseconds bound = std::chrono::seconds(30));
  // Reads until a whole HTTP response has arrived, the peer closes, or `bound` passes.
  Drained ReadReply(std::chrono::milliseconds bound = std::chrono::seconds(30));
  void Close();

 private:
  explicit RawSocket(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace keyward::e2e
