#include "providers/http/url.h"

#include <arpa/inet.h>

#include "core/utf8.h"

namespace keyward::http {
namespace {

Status Bad(std::string_view url, std::string_view why) {
  return Status::InvalidArgument("URL '" + Printable(url, 200) + "' " + std::string(why));
}

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

}  // namespace

std::string Origin::ToString() const {
  std::string out = tls ? "https://" : "http://";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out += ':';
  out += port;
  return out;
}

std::string Origin::HostHeader() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? "443" : "80")) out += ":" + port;
  return out;
}

bool IsIpLiteral(std::string_view host) {
  const std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

Result<Origin> ParseUrl(std::string_view url) {
  Origin o;
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    o.tls = true;
    rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    o.tls = false;
    rest = url.substr(7);
  } else {
    return Bad(url, "must start with https:// (or http:// where plain HTTP is allowed)");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) return Bad(url, "must not have a query or fragment");
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return Bad(url, "must not contain user information: credentials never go in URLs");
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return Bad(url, "has an unterminated '[' in the host");
    o.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Bad(url, "has characters after the IPv6 host");
      port = after.substr(1);
    }
    if (!IsIpLiteral(o.host) || o.host.find(':') == std::string::npos) return Bad(url, "has a bad IPv6 literal");
  } else {
    const std::size_t colon = authority.rfind(':');
    o.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    for (const char c : o.host) {
      if (!IsHostChar(c)) return Bad(url, "has a character that is not allowed in a host name");
    }
  }
  if (o.host.empty()) return Bad(url, "has no host");
  if (port.empty()) {
    if (authority.find(':') != std::string_view::npos && authority.back() == ':') return Bad(url, "has an empty port");
    o.port = o.tls ? "443" : "80";
  } else {
    unsigned long value = 0;
    for (const char c : port) {
      if (c < '0' || c > '9' || port.size() > 5) return Bad(url, "has a bad port");
      value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (value == 0 || value > 65535) return Bad(url, "has a port outside 1-65535");
    o.port = std::string(port);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  o.base_path = std::string(path);
  return o;
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

}  // namespace keyward::http
