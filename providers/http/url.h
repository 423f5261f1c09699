// The few URL operations the provider adapters need: parse a configured base URL, and percent-encode
// path segments and query components.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace keyward::http {

// Where a client connects: scheme, host and port, and the path prefix every request target gets.
struct Origin {
  bool tls = true;          // https (true) or http (false)
  std::string host;         // a DNS name or an IP literal (IPv6 without brackets)
  std::string port;         // decimal; the scheme's default when the URL has none
  std::string base_path;    // "" or "/prefix" (no trailing '/')

  // "https://host:port" (IPv6 hosts in brackets), for messages.
  std::string ToString() const;
  // The Host header: "host" or "host:port" when the port is not the scheme's default.
  std::string HostHeader() const;
  friend bool operator==(const Origin&, const Origin&) = default;
};

// Parses "https://vault.example.com:8200", "http://127.0.0.1:8200/prefix", "https://[::1]:8443".
// Errors (InvalidArgument): no or an unknown scheme, no host, a bad port, user info ("user@host"), a
// query or fragment. The message quotes the URL (configuration, never a secret).
Result<Origin> ParseUrl(std::string_view url);

// True when `host` is an IPv4 or IPv6 literal (no SNI is sent for those).
bool IsIpLiteral(std::string_view host);

// Percent-encodes everything except RFC 3986 unreserved characters (ALPHA DIGIT - . _ ~); with
// keep_slash, '/' is kept too (for multi-segment paths).
std::string PercentEncode(std::string_view text, bool keep_slash);

}  // namespace keyward::http
