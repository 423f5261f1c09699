// The HTTP/1.1 wire format of keyward's listener: the request reader and the response writer that
// HttpServer (server.cpp) uses, apart from sockets so that a fuzzer (tests/fuzz/http_wire_fuzzer.cpp) can
// drive them. Includes Beast's parser: only server.cpp and that fuzzer include it.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/http/server.h"

namespace keyward::http::wire {

inline char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Reads one request straight into an HttpRequest. Beast's basic_parser does the framing (the request
// line, Content-Length and chunked coding, the header and body limits, the smuggling checks); this keeps
// what it hands over. (Beast's own request_parser builds a message whose fields cost an allocation each,
// which OnRead then copied.)
//
// Two refusals of its own, where Beast is lenient and RFC 9112 §6.1 is not: a Transfer-Encoding whose last
// coding is not chunked (Beast reads such a request as having no body, so that its body would be read as
// the next request: smuggling), and a Transfer-Encoding in an HTTP/1.0 request. Trailer fields (after a
// chunked body) are dropped, not merged into the header (RFC 9110 §6.5.1): an Authorization or
// X-Request-Id sent as a trailer, past a proxy that checks headers, means nothing here.
class RequestParser : public boost::beast::http::basic_parser<true> {
 public:
  RequestParser() { request.headers.reserve(8); }
  HttpRequest request;  // names lower-cased
  unsigned version = 11;

 private:
  bool header_done_ = false;
  bool transfer_encoding_ = false;

  void on_request_impl(boost::beast::http::verb, boost::beast::string_view method, boost::beast::string_view target, int v,
                       boost::beast::error_code&) override {
    request.method.assign(method.data(), method.size());
    request.target.assign(target.data(), target.size());
    version = static_cast<unsigned>(v);
  }
  void on_response_impl(int, boost::beast::string_view, int, boost::beast::error_code& ec) override {
    ec = boost::beast::http::error::bad_version;  // unreachable: this parses requests
  }
  void on_field_impl(boost::beast::http::field f, boost::beast::string_view name, boost::beast::string_view value, boost::beast::error_code&) override {
    if (header_done_) return;  // a trailer
    if (f == boost::beast::http::field::transfer_encoding) transfer_encoding_ = true;
    auto& [k, v] = request.headers.emplace_back();
    k.resize(name.size());
    std::transform(name.begin(), name.end(), k.begin(), LowerAscii);
    v.assign(value.data(), value.size());
  }
  void on_header_impl(boost::beast::error_code& ec) override {
    header_done_ = true;
    if (transfer_encoding_ && (version < 11 || !chunked())) ec = boost::beast::http::error::bad_transfer_encoding;
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, boost::beast::error_code&) override {
    // The parser has already refused a length over body_limit.
    if (length) request.body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code&) override {
    request.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, boost::beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body, boost::beast::error_code&) override {
    request.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(boost::beast::error_code&) override {}
};

// A header the server writes only when it is one: the name an RFC 9110 token, the value free of control
// characters but HTAB (no CR or LF to split the response with, no NUL).
bool IsHeaderName(std::string_view s);
bool IsHeaderValue(std::string_view s);

// Writes `r` as the bytes of one response into `out` (cleared first; sized once, so that a sensitive
// body is copied exactly once): the status line, the handler's headers in order (a later header of the
// same name replaces an earlier one), then the headers that belong to the server: Cache-Control for a
// sensitive body, Connection, Content-Length. The handler cannot set those. A status outside 200-599 is
// a handler's bug, answered as 500. No body follows a HEAD request, a 204 or a 304, and a 204 or 304
// has no Content-Length (RFC 9110 §8.6, §9.3.2); a HEAD's gives the body's size.
void SerializeResponse(const HttpResponse& r, unsigned version, bool keep, bool head, std::string& out);

}  // namespace keyward::http::wire
