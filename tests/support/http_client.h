// A small blocking HTTP/1.1 client for end-to-end tests: plain TCP or TLS (OpenSSL), keep-alive, and raw
// bytes for tests that must send what no well-behaved client would.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace keyward::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string Header(const std::string& lower_case_name) const;
};

struct TlsClientOptions {
  std::string ca_pem;    // trust anchor for the server
  std::string cert_pem;  // client certificate (mutual TLS), optional
  std::string key_pem;
  std::string server_name = "localhost";
};

class HttpConnection {
 public:
  // Connects to 127.0.0.1:port (TLS when `tls` is given). Unavailable when it cannot.
  static Result<std::unique_ptr<HttpConnection>> Connect(std::uint16_t port, const std::optional<TlsClientOptions>& tls = {},
                                                         std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~HttpConnection();

  // Sends a request and reads the reply. Headers are sent as given, plus Host and Content-Length.
  Result<HttpReply> Request(const std::string& method, const std::string& target,
                            const std::vector<std::pair<std::string, std::string>>& headers = {},
                            const std::string& body = "");
  // Sends raw bytes.
  Status Send(const std::string& bytes);
  // Reads one reply (after Send).
  Result<HttpReply> ReadReply();
  // Reads until the server closes the connection (or the timeout passes): what it sent, and whether it closed.
  std::pair<std::string, bool> ReadUntilClosed();

  struct Impl;

 private:
  explicit HttpConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One request on a fresh connection.
Result<HttpReply> Http(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers = {}, const std::string& body = "",
                       const std::optional<TlsClientOptions>& tls = {});

}  // namespace keyward::testing
