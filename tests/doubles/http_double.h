// HttpDouble: an in-process HTTP/1.1 server on an ephemeral loopback port, plain or TLS, that the
// API doubles (VaultDouble, DatabricksDouble) put their handlers behind, and that misbehaves on
// demand the way networks and servers do: refuse connections, stall, answer garbage, drop the
// connection in the middle of a body, send more than a client should accept.
//
// It runs its own io_context on its own thread; handlers run there, one request at a time.
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace keyward::doubles {

struct DoubleRequest {
  std::string method;                          // "GET", "POST", "LIST", ...
  std::string target;                          // as sent
  std::string path;                            // the target before '?', percent-decoded
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  // The header's value, or "".
  std::string Header(const std::string& lower_case_name) const;
};

struct DoubleResponse {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent with Content-Type: application/json when not empty
};

// What the server does with the next request(s), instead of answering normally.
enum class Fault {
  kNone,
  kStall,              // read the request, never answer (until the server stops)
  kGarbage,            // answer bytes that are not HTTP, then close
  kDropMidBody,        // send the status line, headers and half of the real body, then close
  kOversizedBody,      // answer 200 with a Content-Length body of oversize_bytes
  kOversizedChunked,   // the same, chunked, so that the size is known only while reading
  kHugeContentLength,  // declare a terabyte of body, send a few bytes, close
  kCloseWithoutAnswer, // close the connection without a byte of answer
};

struct TlsServerConfig {
  std::string cert_pem;         // leaf first, then chain
  std::string key_pem;
  bool only_tls_1_1 = false;    // offer TLS 1.1 and nothing newer (to prove that clients refuse it)
};

struct DoubleOptions {
  std::optional<TlsServerConfig> tls;
  std::size_t oversize_bytes = 2u << 20;
};

class HttpDouble {
 public:
  using Handler = std::function<DoubleResponse(const DoubleRequest&)>;

  // Starts listening on 127.0.0.1 on an ephemeral port. Aborts the test binary when it cannot.
  HttpDouble(Handler handler, DoubleOptions options = {});
  // Closes every connection (stalled ones too) and joins the thread.
  ~HttpDouble();
  HttpDouble(const HttpDouble&) = delete;
  HttpDouble& operator=(const HttpDouble&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT" or "https://HOST:PORT".
  std::string url(const std::string& host = "127.0.0.1") const;

  // The next `count` requests get `fault` (count < 0: every request until SetFault(kNone)).
  void SetFault(Fault fault, int count = -1);
  // Closes the listening socket: connecting fails with "connection refused" from now on.
  void StopListening();

  int accepted_connections() const { return accepted_.load(); }
  int requests() const { return requests_.load(); }
  // Waits until `count` requests in all have been stalled (Fault::kStall), or `timeout` passes; returns
  // whether they were.
  bool WaitForStalled(int count, std::chrono::milliseconds timeout) const;
  // The server name the last TLS client sent (SNI), "" when it sent none.
  std::string last_sni() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};
};

}  // namespace keyward::doubles
