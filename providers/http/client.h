// Client: an asynchronous HTTP/1.1 client for one origin (scheme, host, port), over Boost.Beast and
// OpenSSL, built for talking to secret stores:
//
//   - TLS 1.2 or newer, the peer verified against the system roots or a configured CA file, the host
//     name verified against the certificate, SNI sent for DNS names (never for IP literals). Plain
//     HTTP only when the options say so.
//   - Deadlines on every step: resolve, connect and handshake (each attempt bounded by
//     connect_timeout and the request's deadline), write and read (the request's deadline).
//   - A keep-alive connection pool: at most max_connections connections to the origin; requests
//     beyond that wait for one to come free (back-pressure) until their deadline.
//   - Bounded retries with exponential backoff and jitter on 429, 502, 503, 504 and on connection
//     errors, for idempotent requests only; Retry-After is honoured, up to the deadline.
//   - Response size limits; malformed or oversized responses are errors, never crashes.
//
// Completions run on the IoRuntime's thread and must not block.
//
// Errors `Send` reports (everything the server answered, any status, is a Response instead):
//   kUnavailable        cannot connect, TLS failure (untrusted or wrong certificate, old protocol),
//                       connection dropped, malformed or oversized response, client shut down
//   kDeadlineExceeded   the deadline passed first (also when no pooled connection came free in time)
// Messages name the origin and what failed; they never contain request or response bodies or headers.
//
// Thread-safety: Send, Shutdown and stats may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/provider.h"
#include "core/result.h"
#include "providers/http/retry.h"
#include "providers/http/runtime.h"
#include "core/secure_string.h"
#include "providers/http/url.h"

namespace keyward::http {

enum class Method { kGet, kPost, kPut, kDelete, kList };

struct Request {
  Method method = Method::kGet;
  // Path and query, appended to the origin's base path: "/v1/secret/data/app?version=2". Already encoded.
  std::string target;
  // Extra headers. Values may be credentials (they are wiped).
  std::vector<std::pair<std::string, SecureString>> headers;
  // Sent as application/json when not empty.
  SecureString body;
  // Whether the request may be sent twice. Default: by method (GET, PUT, DELETE and LIST are; POST is not).
  std::optional<bool> idempotent;
  // Retry 429/502/503/504 answers (when idempotent). Health checks turn this off: there 503 means "sealed".
  bool retry_on_status = true;
};

struct Response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  SecureString body;
  int attempts = 1;  // how many times the request was sent

  // The first header named `name` (case-insensitive), if any.
  std::optional<std::string_view> Header(std::string_view name) const;
};

struct ClientOptions {
  std::string ca_file;                    // PEM file of trusted CAs; empty = the system's roots
  bool allow_plain_http = false;          // REQUIRED for an http:// origin
  Millis connect_timeout{5000};           // resolve + connect + TLS handshake, per attempt
  std::size_t max_response_bytes = 1u << 20;
  std::size_t max_header_bytes = 16u << 10;
  std::size_t max_connections = 8;        // open connections to the origin, in use or idle
  Millis idle_timeout{30000};             // a pooled connection idle longer is closed; 0 = no reuse
  RetryPolicy retry;
  std::uint64_t seed = 0;                 // jitter random source; 0 = seeded from std::random_device
};

struct ClientStats {
  std::uint64_t connections_opened = 0;   // TCP connections established
  std::uint64_t connections_reused = 0;   // requests sent over a pooled connection
  std::uint64_t requests_sent = 0;        // attempts, retries included
};

class ClientCore;

class Client {
 public:
  // Errors: InvalidArgument (an http:// origin without allow_plain_http, an unreadable CA file,
  // max_connections == 0).
  static Result<std::unique_ptr<Client>> Create(std::shared_ptr<IoRuntime> runtime, Origin origin,
                                                ClientOptions options);
  // Shuts down (see Shutdown).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  using Done = std::function<void(Result<Response>)>;

  // Sends `request` and calls `done` exactly once, on the runtime's thread, never inside this call.
  void Send(Request request, Deadline deadline, Done done);

  // Closes pooled connections and fails every request in flight or queued with kUnavailable ("shut
  // down"); later requests fail the same way. Idempotent.
  void Shutdown();

  ClientStats stats() const;
  const Origin& origin() const { return origin_; }
  IoRuntime& runtime() const { return *runtime_; }

 private:
  Client(std::shared_ptr<IoRuntime> runtime, Origin origin, std::shared_ptr<ClientCore> core);

  std::shared_ptr<IoRuntime> runtime_;
  Origin origin_;
  std::shared_ptr<ClientCore> core_;
};

}  // namespace keyward::http
