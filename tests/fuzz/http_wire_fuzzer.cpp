// Fuzzes the listener's wire format (core/http/wire.h) without sockets. The first byte picks the side:
//
//   even: the bytes after it are a request, fed to wire::RequestParser in pieces (the second byte sizes
//         them), with the server's limits scaled down (header 1,024 bytes, body 4,096). When it reads a
//         whole request: names are lower-case tokens, a Transfer-Encoding means chunked HTTP/1.1, a body
//         fits the limit and matches its Content-Length, no field is repeated from a trailer.
//   odd:  the bytes after it describe a response (status, flags, "name\tvalue" header lines, a body),
//         written by wire::SerializeResponse and read back by Beast's response parser: exactly one
//         response, every byte consumed, one Content-Length equal to the body (none for 204/304), no body
//         after HEAD/204/304, only headers the handler gave that are tokens with clean values plus the
//         server's own, no-store on a sensitive one.
#include <algorithm>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/http/wire.h"
#include "tests/fuzz/fuzz_check.h"

// The harness's invariants: the condition printed is the message.
#define WIRE_CHECK(cond) FUZZ_CHECK(cond, "%s", "(see the condition)")

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using keyward::http::HttpResponse;
namespace wire = keyward::http::wire;

// A field value as a recipient reads it: without the whitespace around it (RFC 9110 §5.5).
std::string_view Trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), wire::LowerAscii);
  return out;
}

void FuzzRequest(std::string_view in) {
  if (in.empty()) return;
  const std::size_t piece = 1 + static_cast<unsigned char>(in.front()) % 64;
  in.remove_prefix(1);
  wire::RequestParser p;
  p.header_limit(1024);
  p.body_limit(4096);
  p.eager(true);
  beast::error_code ec;
  std::string pending;  // what the parser has not consumed yet, as a server's buffer holds it
  for (std::size_t at = 0; at < in.size() && !p.is_done();) {
    const std::size_t n = std::min(piece, in.size() - at);
    pending.append(in.substr(at, n));
    at += n;
    for (;;) {
      const std::size_t used = p.put(boost::asio::buffer(pending.data(), pending.size()), ec);
      pending.erase(0, used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        break;
      }
      if (ec || p.is_done() || used == 0) break;
    }
    if (ec) return;  // refused: nothing to check
  }
  if (!p.is_done()) return;
  const keyward::http::HttpRequest& r = p.request;
  WIRE_CHECK(!r.method.empty() && !r.target.empty());
  WIRE_CHECK(r.body.size() <= 4096);
  bool transfer_encoding = false;
  for (const auto& [name, value] : r.headers) {
    WIRE_CHECK(wire::IsHeaderName(name));
    WIRE_CHECK(Lower(name) == name);
    if (name == "transfer-encoding") transfer_encoding = true;
  }
  if (transfer_encoding) WIRE_CHECK(p.chunked() && p.version >= 11);
  if (!p.chunked()) {
    if (auto length = p.content_length()) {  // as declared ("05" is 5)
      WIRE_CHECK(r.body.size() == *length);
    } else {
      WIRE_CHECK(r.body.empty());
    }
  }
}

void FuzzResponse(std::string_view in) {
  if (in.size() < 3) return;
  HttpResponse r;
  r.status = static_cast<int>(static_cast<unsigned char>(in[0]) * 4 + (static_cast<unsigned char>(in[1]) & 3));
  const auto flags = static_cast<unsigned char>(in[1]);
  r.sensitive = (flags & 4) != 0;
  const bool head = (flags & 8) != 0;
  const bool keep = (flags & 16) != 0;
  const unsigned version = (flags & 32) != 0 ? 10 : 11;
  in.remove_prefix(2);
  // Header lines "name\tvalue" up to a blank line; the rest is the body.
  while (!in.empty()) {
    const std::size_t eol = in.find('\n');
    const std::string_view line = in.substr(0, eol);
    in.remove_prefix(eol == std::string_view::npos ? in.size() : eol + 1);
    if (line.empty()) break;
    const std::size_t tab = line.find('\t');
    r.headers.emplace_back(std::string(line.substr(0, tab)), tab == std::string_view::npos ? "" : std::string(line.substr(tab + 1)));
  }
  r.body = std::string(in);

  std::string out;
  wire::SerializeResponse(r, version, keep, head, out);
  const int code = r.status >= 200 && r.status <= 599 ? r.status : 500;
  const bool no_length = code == 204 || code == 304;
  const bool no_body = no_length || head;

  bhttp::response_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.skip(no_body);  // as a client that sent HEAD, or reads 204/304, does
  parser.body_limit(1u << 20);
  beast::error_code ec;
  const std::size_t used = parser.put(boost::asio::buffer(out.data(), out.size()), ec);
  WIRE_CHECK(!ec);
  WIRE_CHECK(parser.is_done());
  WIRE_CHECK(used == out.size());  // nothing after the one response
  const auto& msg = parser.get();
  WIRE_CHECK(msg.result_int() == static_cast<unsigned>(code));
  WIRE_CHECK(msg.version() == version);
  WIRE_CHECK(msg.body() == (no_body ? std::string() : r.body));
  WIRE_CHECK(msg.count(bhttp::field::content_length) == (no_length ? 0u : 1u));
  if (!no_length) WIRE_CHECK(msg[bhttp::field::content_length] == std::to_string(r.body.size()));
  WIRE_CHECK(msg.count(bhttp::field::transfer_encoding) == 0);
  WIRE_CHECK(msg.keep_alive() == keep);
  if (r.sensitive) {
    WIRE_CHECK(msg.count(bhttp::field::cache_control) == 1 && msg[bhttp::field::cache_control] == "no-store");
  }
  for (const auto& field : msg) {
    const std::string name = Lower(std::string_view(field.name_string().data(), field.name_string().size()));
    if (name == "content-length" || name == "connection" || (r.sensitive && name == "cache-control")) continue;
    // Any other header is one the handler gave, as it gave it, and a valid one.
    const bool given = std::any_of(r.headers.begin(), r.headers.end(), [&](const auto& h) {
      return Lower(h.first) == name && Trimmed(h.second) == std::string_view(field.value().data(), field.value().size());
    });
    WIRE_CHECK(given);
    WIRE_CHECK(wire::IsHeaderName(std::string_view(field.name_string().data(), field.name_string().size())));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    FuzzRequest(in);
  } else {
    FuzzResponse(in);
  }
  return 0;
}
