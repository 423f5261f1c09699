// keyward::http::HttpServer on the wire: a real listener on a loopback port, raw TCP clients, and a
// recording Handler in place of the API. What the handler receives from the bytes a client sent, and
// the exact bytes a client gets back: status line, framing headers (Content-Length, Connection),
// keep-alive for HTTP/1.1 and HTTP/1.0, pipelining, chunked request bodies, and the limits the server
// answers by itself.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/http/server.h"
#include "tests/e2e/e2e_util.h"

namespace keyward::http {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using e2e::RawSocket;

// A response as it arrived: the status line, every header line in order (names as sent), the body.
struct WireResponse {
  std::string status_line;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::vector<std::string> All(std::string_view lower_name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers) {
      std::string l = k;
      std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (l == lower_name) out.push_back(v);
    }
    return out;
  }
};

// Splits `bytes` into the complete responses at its start (Content-Length framing, which is all this
// server sends); `rest` gets what is left.
std::vector<WireResponse> SplitResponses(const std::string& bytes, std::string* rest = nullptr) {
  std::vector<WireResponse> out;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t end = bytes.find("\r\n\r\n", pos);
    if (end == std::string::npos) break;
    WireResponse r;
    std::size_t line_end = bytes.find("\r\n", pos);
    r.status_line = bytes.substr(pos, line_end - pos);
    std::size_t length = 0;
    for (std::size_t at = line_end + 2; at < end + 2;) {
      const std::size_t eol = bytes.find("\r\n", at);
      const std::string line = bytes.substr(at, eol - at);
      const std::size_t colon = line.find(':');
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers.emplace_back(line.substr(0, colon), value);
      at = eol + 2;
    }
    const auto lengths = r.All("content-length");
    if (lengths.size() == 1) length = std::stoul(lengths.front());
    if (bytes.size() < end + 4 + length) break;
    r.body = bytes.substr(end + 4, length);
    pos = end + 4 + length;
    out.push_back(std::move(r));
  }
  if (rest != nullptr) *rest = bytes.substr(pos);
  return out;
}

// Reads from `socket` until `count` whole responses have arrived, the peer closes, or 10 s pass.
struct Read {
  std::vector<WireResponse> responses;
  std::string rest;
  bool closed = false;
};
Read ReadResponses(RawSocket& socket, std::size_t count) {
  Read r;
  std::string bytes;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  char buf[8192];
  while (SplitResponses(bytes).size() < count) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{socket.fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(socket.fd(), buf, sizeof buf, 0);
    if (n <= 0) {
      r.closed = true;
      break;
    }
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  r.responses = SplitResponses(bytes, &r.rest);
  return r;
}

// Everything the server sends until it closes the connection (within 10 s), as whole responses with
// nothing left over.
std::vector<WireResponse> ResponsesUntilClosed(RawSocket& socket) {
  const RawSocket::Drained d = socket.ReadUntilClosed(std::chrono::seconds(10));
  std::string rest;
  std::vector<WireResponse> responses = SplitResponses(d.bytes, &rest);
  EXPECT_TRUE(d.closed);
  EXPECT_EQ(rest, "") << d.bytes;
  return responses;
}

// True when the server closes the connection (EOF) within 10 s, having sent nothing more.
bool ClosedWithNothingMore(RawSocket& socket) {
  const RawSocket::Drained d = socket.ReadUntilClosed(std::chrono::seconds(10));
  return d.closed && d.bytes.empty();
}

class RecordingHandler : public Handler {
 public:
  // How the handler answers; by default 200 with a small JSON body, from the I/O thread.
  std::function<HttpResponse(const HttpRequest&)> answer = [](const HttpRequest&) {
    HttpResponse r;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = R"({"ok":true})";
    return r;
  };

  // When set, it is given each request instead, to answer when and how it likes (late, twice, never).
  std::function<void(HttpRequest, Respond)> take;

  void Handle(HttpRequest request, Respond respond) override {
    if (take) return take(std::move(request), std::move(respond));
    HttpResponse r = answer(request);
    {
      std::lock_guard lk(mu_);
      requests_.push_back(std::move(request));
    }
    respond(std::move(r));
  }
  HttpResponse Refuse(int status, const std::string& code, const std::string& message,
                      std::string_view client_request_id) override {
    HttpResponse r;
    r.status = status;
    r.close = true;
    r.headers.emplace_back("X-Request-Id", client_request_id.empty() ? "server-chosen" : std::string(client_request_id));
    r.body = code + ": " + message;
    return r;
  }
  std::vector<HttpRequest> requests() {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  std::vector<HttpRequest> requests_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.max_header_bytes = 1024;
    options.max_body_bytes = 256;
    auto started = HttpServer::Start(options, &handler_);
    ASSERT_TRUE(started.has_value()) << started.status().message();
    server_ = std::move(started).value();
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::milliseconds(0));
  }
  RawSocket Connect() {
    auto s = RawSocket::Connect(server_->port());
    EXPECT_TRUE(s.has_value());
    return std::move(*s);
  }
  // The handler answers every request with `r`.
  void AnswerWith(HttpResponse r) {
    handler_.answer = [r = std::move(r)](const HttpRequest&) { return r; };
  }
  // Sends `request` on `s` and returns the one response that must come back, and nothing after it.
  static WireResponse RoundTrip(RawSocket& s, const std::string& request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n") {
    EXPECT_TRUE(s.Send(request));
    const Read r = ReadResponses(s, 1);
    EXPECT_EQ(r.responses.size(), 1u) << request;
    EXPECT_EQ(r.rest, "");
    return r.responses.empty() ? WireResponse{} : r.responses.front();
  }

  RecordingHandler handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, TheHandlerGetsTheRequestAsSentWithLowerCaseNames) {
  RawSocket s = Connect();
  ASSERT_TRUE(s.Send("POST /v1/things?x=1&y=%2F HTTP/1.1\r\nHost: example\r\nX-Custom-Thing: Some Value\r\n"
                     "x-custom-thing: second\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"));
  const Read r = ReadResponses(s, 1);
  ASSERT_EQ(r.responses.size(), 1u);
  const auto requests = handler_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const HttpRequest& q = requests.front();
  EXPECT_EQ(q.method, "POST");
  EXPECT_EQ(q.target, "/v1/things?x=1&y=%2F");
  EXPECT_THAT(q.headers, ElementsAre(Pair("host", "example"), Pair("x-custom-thing", "Some Value"),
                                     Pair("x-custom-thing", "second"), Pair("content-type", "application/json"),
                                     Pair("content-length", "7")));
  EXPECT_EQ(q.Header("x-custom-thing"), "Some Value");
  EXPECT_EQ(q.body, "{\"a\":1}");
  EXPECT_EQ(q.peer.rfind("127.0.0.1:", 0), 0u) << q.peer;
  EXPECT_TRUE(q.client_identities.empty());
}

TEST_F(HttpServerTest, AChunkedBodyArrivesWhole) {
  RawSocket s = Connect();
  ASSERT_TRUE(s.Send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nAuthorization: Bearer kw_trailer\r\n"
                     "X-Request-Id: from-trailer\r\n\r\n"));
  ASSERT_EQ(ReadResponses(s, 1).responses.size(), 1u);
  const auto requests = handler_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests.front().body, "abcdefg");
  // Trailer fields are dropped, not merged into the header (RFC 9110 §6.5.1).
  EXPECT_THAT(requests.front().headers, ElementsAre(Pair("host", "x"), Pair("transfer-encoding", "chunked")));
}

// RFC 9112 §6.1: when chunked is not the last coding the body's length is unknown (Beast would read the
// request as bodiless, and its body as the next request), and HTTP/1.0 has no transfer codings.
TEST_F(HttpServerTest, TransferEncodingsThatCannotBeFramedAre400) {
  for (const std::string& bad :
       {std::string("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc"),
        std::string("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")}) {
    RawSocket s = Connect();
    ASSERT_TRUE(s.Send(bad));
    const Read r = ReadResponses(s, 1);
    ASSERT_EQ(r.responses.size(), 1u) << bad;
    EXPECT_EQ(r.responses.front().status_line.substr(9), "400 Bad Request") << bad;
    EXPECT_EQ(r.responses.front().body.rfind("invalid_argument: malformed HTTP request: ", 0), 0u) << r.responses.front().body;
    EXPECT_TRUE(ClosedWithNothingMore(s)) << bad;
  }
  EXPECT_TRUE(handler_.requests().empty());
}

// A line that never ends inside a chunked body (an extension, a trailer) is not buffered without end.
TEST_F(HttpServerTest, AnEndlessChunkExtensionIsRefused) {
  // A read deadline far beyond the test's bound: the line must be refused for its size, not its time.
  ServerOptions options;
  options.max_header_bytes = 1024;
  options.read_timeout = std::chrono::minutes(10);
  auto started = HttpServer::Start(options, &handler_);
  ASSERT_TRUE(started.has_value());
  auto server = std::move(started).value();
  auto s = RawSocket::Connect(server->port());
  ASSERT_TRUE(s.has_value());
  ASSERT_TRUE(s->Send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=" + std::string(200 * 1024, 'a')));
  const RawSocket::Drained d = s->ReadUntilClosed(std::chrono::seconds(30));
  EXPECT_TRUE(d.closed);  // refused (a 400, unless the reset from the unread bytes overtook it), not read on
  if (!d.bytes.empty()) {
    EXPECT_EQ(d.bytes.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << d.bytes.substr(0, 200);
  }
  EXPECT_TRUE(handler_.requests().empty());
}

TEST_F(HttpServerTest, AHeadResponseHasALengthAndNoBody) {
  RawSocket s = Connect();
  // HEAD, then GET on the same connection, sent together: if the HEAD's answer carried a body, the
  // GET's answer would not start where the HEAD's header ends.
  ASSERT_TRUE(s.Send("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const RawSocket::Drained d = s.ReadUntilClosed(std::chrono::seconds(10));
  const std::size_t head_end = d.bytes.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << d.bytes;
  const std::string head = d.bytes.substr(0, head_end + 4);
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nContent-Length: 11\r\n"), std::string::npos) << head;  // {"ok":true}, as GET has it
  std::string rest;
  const auto after = SplitResponses(d.bytes.substr(head_end + 4), &rest);
  ASSERT_EQ(after.size(), 1u) << "the HEAD left a body behind: " << d.bytes;
  EXPECT_EQ(after.front().status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(after.front().body, R"({"ok":true})");
  EXPECT_EQ(rest, "");
}

TEST_F(HttpServerTest, NoContentAndNotModifiedHaveNoBodyAndAStatusOutOfRangeIs500) {
  for (const auto& [given, line, length] : std::vector<std::tuple<int, std::string, std::vector<std::string>>>{
           {204, "HTTP/1.1 204 No Content", {}}, {304, "HTTP/1.1 304 Not Modified", {}},
           {99, "HTTP/1.1 500 Internal Server Error", {"4"}}, {1000, "HTTP/1.1 500 Internal Server Error", {"4"}},
           {101, "HTTP/1.1 500 Internal Server Error", {"4"}}}) {
    handler_.answer = [status = given](const HttpRequest&) {
      HttpResponse r;
      r.status = status;
      r.body = "body";
      return r;
    };
    RawSocket s = Connect();
    ASSERT_TRUE(s.Send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const auto responses = ResponsesUntilClosed(s);
    ASSERT_EQ(responses.size(), 1u) << given;
    EXPECT_EQ(responses.front().status_line, line) << given;
    EXPECT_EQ(responses.front().All("content-length"), length) << given;
    EXPECT_EQ(responses.front().body, length.empty() ? "" : "body") << given;
  }
}

// The Handler contract is one answer per request; a second must not reach the wire (nor overwrite the
// buffer of the first while it is written).
TEST_F(HttpServerTest, ASecondAnswerToOneRequestIsDropped) {
  handler_.take = [](HttpRequest request, Handler::Respond respond) {
    HttpResponse first, second;
    first.body = "first:" + request.target;
    second.body = "second:" + request.target;
    respond(std::move(first));
    respond(std::move(second));
  };
  RawSocket s = Connect();
  ASSERT_TRUE(s.Send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const auto responses = ResponsesUntilClosed(s);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].body, "first:/1");
  EXPECT_EQ(responses[1].body, "first:/2");
}

// An answer that arrives after Shutdown (a provider or the audit log finishing late) is dropped, and the
// server can still be destroyed with it queued.
TEST_F(HttpServerTest, AnAnswerAfterShutdownIsDroppedAndTheServerDestroyedSafely) {
  std::mutex mu;
  std::condition_variable cv;
  Handler::Respond held;
  handler_.take = [&](HttpRequest, Handler::Respond respond) {
    std::lock_guard lk(mu);
    held = std::move(respond);
    cv.notify_all();
  };
  RawSocket s = Connect();
  ASSERT_TRUE(s.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  Handler::Respond respond;
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(10), [&] { return held != nullptr; }));
    respond = std::move(held);
  }
  server_->Shutdown(std::chrono::milliseconds(0));
  HttpResponse late;
  late.body = "late";
  respond(std::move(late));
  respond = nullptr;
  server_.reset();
  const RawSocket::Drained d = s.ReadUntilClosed(std::chrono::seconds(10));
  EXPECT_TRUE(d.closed);
  EXPECT_EQ(d.bytes, "");
}

TEST_F(HttpServerTest, AResponseIsFramedByContentLengthAndTheConnectionStaysOpen) {
  HttpResponse a;
  a.status = 201;
  a.headers.emplace_back("Content-Type", "application/json");
  a.headers.emplace_back("X-Request-Id", "req-1");
  a.body = "{\"created\":true}";
  AnswerWith(a);
  RawSocket s = Connect();
  for (int round = 0; round < 2; ++round) {  // the second request on the same connection
    const WireResponse w = RoundTrip(s, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(w.status_line, "HTTP/1.1 201 Created") << "round " << round;
    EXPECT_THAT(w.All("content-type"), ElementsAre("application/json"));
    EXPECT_THAT(w.All("x-request-id"), ElementsAre("req-1"));
    EXPECT_THAT(w.All("content-length"), ElementsAre("16"));
    EXPECT_TRUE(w.All("connection").empty());  // HTTP/1.1 keeps alive by default
    EXPECT_TRUE(w.All("cache-control").empty());
    EXPECT_EQ(w.body, "{\"created\":true}");
  }
}

TEST_F(HttpServerTest, StatusLinesCarryTheirReasonPhrases) {
  for (const auto& [status, line] : std::vector<std::pair<int, std::string>>{
           {200, "HTTP/1.1 200 OK"}, {400, "HTTP/1.1 400 Bad Request"}, {401, "HTTP/1.1 401 Unauthorized"},
           {403, "HTTP/1.1 403 Forbidden"}, {404, "HTTP/1.1 404 Not Found"}, {405, "HTTP/1.1 405 Method Not Allowed"},
           {429, "HTTP/1.1 429 Too Many Requests"}, {500, "HTTP/1.1 500 Internal Server Error"},
           {503, "HTTP/1.1 503 Service Unavailable"}, {504, "HTTP/1.1 504 Gateway Timeout"}}) {
    HttpResponse a;
    a.status = status;
    AnswerWith(a);
    RawSocket s = Connect();
    const WireResponse w = RoundTrip(s);
    EXPECT_EQ(w.status_line, line);
    EXPECT_THAT(w.All("content-length"), ElementsAre("0"));
  }
}

TEST_F(HttpServerTest, FramingHeadersAreTheServersNotTheHandlers) {
  HttpResponse a;
  a.headers = {{"Content-Length", "999"}, {"Transfer-Encoding", "chunked"}, {"Connection", "close"},
               {"X-Twice", "first"}, {"x-twice", "second"}};
  a.body = "four";
  AnswerWith(a);
  RawSocket s = Connect();
  const WireResponse w = RoundTrip(s);
  EXPECT_THAT(w.All("content-length"), ElementsAre("4"));
  EXPECT_TRUE(w.All("transfer-encoding").empty());
  EXPECT_TRUE(w.All("connection").empty());
  EXPECT_THAT(w.All("x-twice"), ElementsAre("second"));  // a later header replaces an earlier one
  EXPECT_EQ(w.body, "four");
  // Still open: the handler cannot close a connection through a header (HttpResponse::close does).
  EXPECT_EQ(RoundTrip(s).body, "four");
}

TEST_F(HttpServerTest, AHeaderThatWouldBreakTheFramingIsNotWritten) {
  HttpResponse a;
  a.headers = {{"X-Split", "a\r\nSet-Cookie: injected=1"}, {"X-Bare-Lf", "a\nb"}, {std::string("X-Nul\0", 6), "v"},
               {"Bad Name", "v"}, {"Bad:Name", "v"}, {"X-Fine", "kept\tand tabbed"}};
  a.body = "ok";
  AnswerWith(a);
  RawSocket s = Connect();
  const WireResponse w = RoundTrip(s);
  ASSERT_EQ(w.headers.size(), 2u) << "only X-Fine and Content-Length";
  EXPECT_THAT(w.All("x-fine"), ElementsAre("kept\tand tabbed"));
  EXPECT_THAT(w.All("content-length"), ElementsAre("2"));
  EXPECT_EQ(w.body, "ok");
}

TEST_F(HttpServerTest, ASensitiveResponseIsMarkedNoStore) {
  HttpResponse a;
  a.sensitive = true;
  a.headers.emplace_back("Cache-Control", "public");  // the server's no-store wins
  a.body = "value";
  AnswerWith(a);
  RawSocket s = Connect();
  const WireResponse w = RoundTrip(s);
  EXPECT_THAT(w.All("cache-control"), ElementsAre("no-store"));
  EXPECT_EQ(w.body, "value");
}

TEST_F(HttpServerTest, TheHandlersCloseEndsTheConnectionAfterTheResponse) {
  HttpResponse a;
  a.close = true;
  a.body = "bye";
  AnswerWith(a);
  RawSocket s = Connect();
  const WireResponse w = RoundTrip(s);
  EXPECT_THAT(w.All("connection"), ElementsAre("close"));
  EXPECT_EQ(w.body, "bye");
  EXPECT_TRUE(ClosedWithNothingMore(s));
}

TEST_F(HttpServerTest, AClientsConnectionCloseIsHonoured) {
  RawSocket s = Connect();
  EXPECT_THAT(RoundTrip(s, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").All("connection"),
              ElementsAre("close"));
  EXPECT_TRUE(ClosedWithNothingMore(s));
}

TEST_F(HttpServerTest, Http10ClosesUnlessAskedToKeepAlive) {
  {
    RawSocket s = Connect();
    const WireResponse w = RoundTrip(s, "GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(w.status_line, "HTTP/1.0 200 OK");
    EXPECT_TRUE(w.All("connection").empty());  // closing is HTTP/1.0's default
    EXPECT_TRUE(ClosedWithNothingMore(s));
  }
  RawSocket s = Connect();
  for (int round = 0; round < 2; ++round) {  // kept open: the second request on the same connection
    const WireResponse w = RoundTrip(s, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(w.status_line, "HTTP/1.0 200 OK") << "round " << round;
    EXPECT_THAT(w.All("connection"), ElementsAre("keep-alive"));
  }
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  // The first answer comes from another thread, the others at once on the I/O thread: they still leave
  // in the order the requests came.
  std::vector<std::thread> late;
  handler_.take = [&late](HttpRequest request, Handler::Respond respond) {
    HttpResponse r;
    r.body = request.target;
    if (request.target != "/first") return respond(std::move(r));
    late.emplace_back([r = std::move(r), respond = std::move(respond)]() mutable { respond(std::move(r)); });
  };
  RawSocket s = Connect();
  ASSERT_TRUE(s.Send("GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const auto responses = ResponsesUntilClosed(s);
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0].body, "/first");
  EXPECT_EQ(responses[1].body, "/second");
  EXPECT_EQ(responses[2].body, "/third");
  server_->Shutdown(std::chrono::milliseconds(0));
  for (auto& t : late) t.join();
}

TEST_F(HttpServerTest, OversizedHeadersAre431WithTheClientsRequestId) {
  RawSocket s = Connect();
  ASSERT_TRUE(s.Send("GET / HTTP/1.1\r\nX-Request-Id: mine-1\r\nX-Filler: " + std::string(2000, 'a') + "\r\n\r\n"));
  const Read r = ReadResponses(s, 1);
  ASSERT_EQ(r.responses.size(), 1u);
  EXPECT_EQ(r.responses.front().status_line, "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_THAT(r.responses.front().All("x-request-id"), ElementsAre("mine-1"));
  EXPECT_THAT(r.responses.front().All("connection"), ElementsAre("close"));
  EXPECT_EQ(r.responses.front().body, "invalid_argument: request header larger than 1024 bytes");
  EXPECT_TRUE(handler_.requests().empty());
}

TEST_F(HttpServerTest, AnOversizedBodyIs413) {
  RawSocket s = Connect();
  ASSERT_TRUE(s.Send("POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: mine-2\r\nContent-Length: 257\r\n\r\n"));
  const Read r = ReadResponses(s, 1);
  ASSERT_EQ(r.responses.size(), 1u);
  EXPECT_EQ(r.responses.front().status_line, "HTTP/1.1 413 Payload Too Large");
  EXPECT_THAT(r.responses.front().All("x-request-id"), ElementsAre("mine-2"));
  EXPECT_EQ(r.responses.front().body, "invalid_argument: request body larger than 256 bytes");
  EXPECT_TRUE(ClosedWithNothingMore(s));
  EXPECT_TRUE(handler_.requests().empty());
}

// A client uploading a body too large may still be sending it when the server refuses it on the header.
// The server must not close with that body unread: that resets the connection, the client's next write
// fails, and the 413 can be lost with it. (It stops sending, reads and drops the rest, then closes.)
TEST_F(HttpServerTest, ARefusalReachesAClientStillSendingItsBody) {
  RawSocket s = Connect();
  const std::string body(320 * 1024, 'b');
  ASSERT_TRUE(s.Send("POST / HTTP/1.1\r\nHost: x\r\nX-Request-Id: big-1\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 64 * 1024)));
  pollfd p{s.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1) << "no answer within 10 s";  // the refusal has been written
  EXPECT_TRUE(s.Send(body.substr(64 * 1024))) << "the rest of the body could not be sent: the connection was reset";
  const RawSocket::Drained d = s.ReadReply(std::chrono::seconds(10));
  EXPECT_FALSE(d.reset);
  const auto responses = SplitResponses(d.bytes);
  ASSERT_EQ(responses.size(), 1u) << d.bytes.substr(0, 200);
  EXPECT_EQ(responses.front().status_line, "HTTP/1.1 413 Payload Too Large");
  EXPECT_THAT(responses.front().All("x-request-id"), ElementsAre("big-1"));
  EXPECT_THAT(responses.front().All("connection"), ElementsAre("close"));
  ::shutdown(s.fd(), SHUT_WR);  // done, as a client that has its answer: the server stops reading and closes
  EXPECT_TRUE(ClosedWithNothingMore(s));
}

TEST_F(HttpServerTest, MalformedHttpIs400AndCloses) {
  for (const std::string& bad : {std::string("GET / HTTP/1.1\r\nBad Header Line\r\n\r\n"),
                                 std::string("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")}) {
    RawSocket s = Connect();
    ASSERT_TRUE(s.Send(bad));
    const Read r = ReadResponses(s, 1);
    ASSERT_EQ(r.responses.size(), 1u) << bad;
    EXPECT_EQ(r.responses.front().status_line, "HTTP/1.1 400 Bad Request") << bad;
    EXPECT_EQ(r.responses.front().body.rfind("invalid_argument: malformed HTTP request: ", 0), 0u)
        << r.responses.front().body;
    EXPECT_TRUE(ClosedWithNothingMore(s)) << bad;
  }
  EXPECT_TRUE(handler_.requests().empty());
}

}  // namespace
}  // namespace keyward::http
