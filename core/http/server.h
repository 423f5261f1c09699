// HttpServer: keyward's HTTP/1.1 listener (Boost.Beast), plain or TLS, with optional client certificates.
//
// Beast and Asio stay inside server.cpp; this header speaks plain structs. The server reads requests
// with explicit limits and deadlines and hands each one to a Handler; requests on one connection are
// handled one at a time and answered in order (clients may pipeline). Limits are answered without
// calling the handler: 431 for an oversized header, 413 for an oversized body, 400 for malformed HTTP,
// 503 when there are too many connections. A request not read within the read deadline, or a
// connection idle past the keep-alive deadline, is closed without an answer.
//
// Thread-safety: Start, port and Shutdown may be called from any thread; the handler is called on the
// server's I/O threads and its `respond` may be called from any thread, exactly once (a second call is
// dropped), and not after the HttpServer is destroyed (after Shutdown is fine: the answer is dropped).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace keyward::http {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string peer;  // "ip:port"
  // When the client presented a certificate that the configured CA verified: its subject
  // ("CN=...,O=..." in RFC 2253 form) and SANs ("DNS:...", "URI:...", "email:..."). Empty otherwise.
  std::vector<std::string> client_identities;

  // The value of header `name` (lower case), or "" when absent.
  std::string_view Header(std::string_view name) const;
  // The value of header `name` (lower case), or nullopt when absent (present but empty: "").
  std::optional<std::string_view> FindHeader(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close = false;      // close the connection after this response
  bool sensitive = false;  // the body holds secret values: wipe it once written
};

class Handler {
 public:
  virtual ~Handler() = default;
  using Respond = std::function<void(HttpResponse)>;
  virtual void Handle(HttpRequest request, Respond respond) = 0;
  // The error the server answers by itself (413, 431, 400, 503): JSON in the API's shape, with a
  // request id. client_request_id is the request's X-Request-Id when its header was read, else empty.
  virtual HttpResponse Refuse(int status, const std::string& code, const std::string& message,
                              std::string_view client_request_id) = 0;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port (see HttpServer::port())
  int io_threads = 2;
  // TLS: all empty = plain HTTP. certificate and private_key are PEM files; client_ca, when set, makes
  // the server ask for client certificates verified against it (clients without one may still use tokens).
  std::string certificate;
  std::string private_key;
  std::string client_ca;
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_body_bytes = 64 * 1024;
  // Open connections; one more is answered 503 and closed. Start() clamps it to what the open-file
  // limit leaves (see HttpServer::max_connections()).
  std::size_t max_connections = 10000;
  std::chrono::milliseconds read_timeout{10000};    // to read one request once its first byte arrived
  std::chrono::milliseconds idle_timeout{60000};    // to wait for the next request on a kept-alive connection
  std::chrono::milliseconds write_timeout{10000};
  std::chrono::milliseconds handshake_timeout{10000};
};

class HttpServer {
 public:
  // Binds, listens and starts the I/O threads. Errors: InvalidArgument (address, TLS files),
  // Unavailable (cannot bind).
  static Result<std::unique_ptr<HttpServer>> Start(const ServerOptions& options, Handler* handler);
  ~HttpServer();  // Shutdown(0) if still running

  std::uint16_t port() const;
  std::size_t connections() const;
  // The connection limit in force: options.max_connections, or less when the process's open-file limit
  // (RLIMIT_NOFILE, raised to its hard limit by Start()) leaves fewer descriptors than that plus
  // kReservedDescriptors for the audit log, providers and the rest of the process.
  std::size_t max_connections() const;
  static constexpr std::size_t kReservedDescriptors = 64;

  // Stops accepting, closes idle connections, lets requests in progress finish within `grace`, then
  // closes everything and joins the I/O threads. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyward::http
