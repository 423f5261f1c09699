// The HTTP client against HttpDouble: keep-alive pooling, retries, deadlines and every way a server or
// network can misbehave. One TEST_F per failure mode.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "core/testing/status_matchers.h"
#include "providers/http/client.h"
#include "tests/doubles/http_double.h"
#include "tests/providers/wait.h"

namespace keyward::http {
namespace {

using ::keyward::doubles::DoubleRequest;
using ::keyward::doubles::DoubleResponse;
using ::keyward::doubles::Fault;
using ::keyward::doubles::HttpDouble;
using ::keyward::testing::In;
using ::keyward::testing::IsOk;
using ::keyward::testing::SendAndWait;
using ::keyward::testing::Soon;
using ::keyward::testing::StatusIs;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kMargin{2};  // generous: timing assertions must not flake on a busy CI box

class HttpClientTest : public ::testing::Test {
 protected:
  HttpClientTest()
      : runtime_(IoRuntime::Start()), server_([this](const DoubleRequest& r) { return Handle(r); }) {}

  // The answer the server gives; tests replace it.
  DoubleResponse Handle(const DoubleRequest& r) {
    std::lock_guard lock(mu_);
    seen_.push_back(r);
    if (!scripted_.empty()) {
      DoubleResponse res = scripted_.front();
      scripted_.erase(scripted_.begin());
      return res;
    }
    return DoubleResponse{200, {}, R"({"ok":true,"path":")" + r.path + "\"}"};
  }

  void Script(std::vector<DoubleResponse> responses) {
    std::lock_guard lock(mu_);
    scripted_ = std::move(responses);
  }

  static ClientOptions FastOptions() {
    ClientOptions o;
    o.allow_plain_http = true;
    o.retry = RetryPolicy{4, Millis(5), Millis(20)};
    o.max_response_bytes = 64 * 1024;
    return o;
  }

  std::unique_ptr<Client> NewClient(ClientOptions options = FastOptions()) {
    auto origin = ParseUrl(server_.url());
    EXPECT_TRUE(origin.has_value());
    auto c = Client::Create(runtime_, *origin, std::move(options));
    EXPECT_THAT(c, IsOk());
    return std::move(*c);
  }

  static Request Get(std::string target = "/v1/thing") {
    Request r;
    r.target = std::move(target);
    return r;
  }

  std::shared_ptr<IoRuntime> runtime_;
  HttpDouble server_;
  std::mutex mu_;
  std::vector<DoubleRequest> seen_;
  std::vector<DoubleResponse> scripted_;
};

TEST_F(HttpClientTest, GetReturnsStatusHeadersAndBody) {
  Script({DoubleResponse{201, {{"X-Answer", "42"}}, R"({"made":true})"}});
  auto client = NewClient();
  auto r = SendAndWait(*client, Get("/v1/a/b?x=1"), Soon());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 201u);
  EXPECT_EQ(r->body.view(), R"({"made":true})");
  EXPECT_EQ(r->Header("x-answer").value_or(""), "42");
  EXPECT_EQ(r->attempts, 1);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].target, "/v1/a/b?x=1");
  EXPECT_EQ(seen_[0].Header("host"), "127.0.0.1:" + std::to_string(server_.port()));
}

TEST_F(HttpClientTest, SendsMethodHeadersAndBody) {
  auto client = NewClient();
  Request r;
  r.method = Method::kList;
  r.target = "/v1/secret/metadata/app";
  r.headers.emplace_back("X-Vault-Token", SecureString("t0ken"));
  r.body = SecureString(R"({"a":1})");
  ASSERT_THAT(SendAndWait(*client, std::move(r), Soon()), IsOk());
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].method, "LIST");
  EXPECT_EQ(seen_[0].Header("x-vault-token"), "t0ken");
  EXPECT_EQ(seen_[0].Header("content-type"), "application/json");
  EXPECT_EQ(seen_[0].body, R"({"a":1})");
}

TEST_F(HttpClientTest, SequentialRequestsReuseOneConnection) {
  auto client = NewClient();
  for (int i = 0; i < 5; ++i) ASSERT_THAT(SendAndWait(*client, Get(), Soon()), IsOk());
  EXPECT_EQ(server_.accepted_connections(), 1);
  EXPECT_EQ(client->stats().connections_opened, 1u);
  EXPECT_EQ(client->stats().connections_reused, 4u);
}

TEST_F(HttpClientTest, ZeroIdleTimeoutMeansOneConnectionPerRequest) {
  ClientOptions o = FastOptions();
  o.idle_timeout = Millis(0);
  auto client = NewClient(o);
  for (int i = 0; i < 5; ++i) ASSERT_THAT(SendAndWait(*client, Get(), Soon()), IsOk());
  EXPECT_EQ(server_.accepted_connections(), 5);
}

TEST_F(HttpClientTest, ConcurrentRequestsShareABoundedPool) {
  ClientOptions o = FastOptions();
  o.max_connections = 4;
  auto client = NewClient(o);
  constexpr int kRequests = 64;
  std::atomic<int> ok{0};
  std::vector<std::future<void>> done;
  std::vector<std::shared_ptr<std::promise<void>>> promises;
  for (int i = 0; i < kRequests; ++i) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    client->Send(Get(), Soon(), [p, &ok](Result<Response> r) {
      if (r.has_value() && r->status == 200) ok.fetch_add(1);
      p->set_value();
    });
    promises.push_back(p);
  }
  for (auto& f : done) ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_GE(server_.accepted_connections(), 1);
  EXPECT_LE(server_.accepted_connections(), 4);
  EXPECT_EQ(client->stats().connections_reused + client->stats().connections_opened,
            static_cast<std::uint64_t>(kRequests));
}

TEST_F(HttpClientTest, ConnectionRefusedIsUnavailableAfterBoundedRetries) {
  server_.StopListening();
  auto client = NewClient();
  auto r = SendAndWait(*client, Get(), Soon());
  EXPECT_THAT(r, StatusIs(StatusCode::kUnavailable, HasSubstr("cannot connect")));
  EXPECT_THAT(r.error().message(), HasSubstr("(4 attempts)"));
}

TEST_F(HttpClientTest, NonIdempotentRequestIsNotRetriedOnConnectionError) {
  server_.StopListening();
  auto client = NewClient();
  Request r = Get();
  r.method = Method::kPost;
  auto res = SendAndWait(*client, std::move(r), Soon());
  EXPECT_THAT(res, StatusIs(StatusCode::kUnavailable, HasSubstr("(1 attempt)")));
}

TEST_F(HttpClientTest, StalledServerFailsWithDeadlineExceededInTime) {
  server_.SetFault(Fault::kStall);
  auto client = NewClient();
  const auto deadline = std::chrono::milliseconds(400);
  const auto start = Clock::now();
  auto r = SendAndWait(*client, Get(), In(deadline));
  const auto elapsed = Clock::now() - start;
  EXPECT_THAT(r, StatusIs(StatusCode::kDeadlineExceeded));
  EXPECT_GE(elapsed, deadline - std::chrono::milliseconds(50));
  EXPECT_LT(elapsed, deadline + kMargin);
}

TEST_F(HttpClientTest, RetriesA429AndSucceeds) {
  Script({DoubleResponse{429, {{"Retry-After", "0"}}, R"({"errors":["rate limit quota exceeded"]})"}});
  auto client = NewClient();
  auto r = SendAndWait(*client, Get(), Soon());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(server_.requests(), 2);
}

TEST_F(HttpClientTest, HonoursRetryAfter) {
  Script({DoubleResponse{429, {{"Retry-After", "1"}}, "{}"}});
  auto client = NewClient();
  const auto start = Clock::now();
  auto r = SendAndWait(*client, Get(), Soon());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 200u);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(1000));
}

TEST_F(HttpClientTest, RetryAfterPastTheDeadlineIsNotWaitedFor) {
  Script({DoubleResponse{429, {{"Retry-After", "30"}}, "{}"}});
  auto client = NewClient();
  const auto start = Clock::now();
  auto r = SendAndWait(*client, Get(), In(std::chrono::seconds(3)));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 429u);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST_F(HttpClientTest, Persistent503IsRetriedABoundedNumberOfTimes) {
  Script(std::vector<DoubleResponse>(10, DoubleResponse{503, {}, R"({"errors":["busy"]})"}));
  auto client = NewClient();
  auto r = SendAndWait(*client, Get(), Soon());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 503u);
  EXPECT_EQ(r->attempts, 4);
  EXPECT_EQ(server_.requests(), 4);
}

TEST_F(HttpClientTest, StatusRetriesCanBeTurnedOff) {
  Script({DoubleResponse{503, {}, "{}"}});
  auto client = NewClient();
  Request r = Get();
  r.retry_on_status = false;
  auto res = SendAndWait(*client, std::move(r), Soon());
  ASSERT_THAT(res, IsOk());
  EXPECT_EQ(res->status, 503u);
  EXPECT_EQ(server_.requests(), 1);
}

TEST_F(HttpClientTest, PostIsNotRetriedOn503) {
  Script({DoubleResponse{503, {}, "{}"}});
  auto client = NewClient();
  Request r = Get();
  r.method = Method::kPost;
  auto res = SendAndWait(*client, std::move(r), Soon());
  ASSERT_THAT(res, IsOk());
  EXPECT_EQ(res->status, 503u);
  EXPECT_EQ(server_.requests(), 1);
}

TEST_F(HttpClientTest, GarbageResponseIsUnavailable) {
  server_.SetFault(Fault::kGarbage);
  auto client = NewClient();
  EXPECT_THAT(SendAndWait(*client, Get(), Soon()),
              StatusIs(StatusCode::kUnavailable, HasSubstr("malformed HTTP response")));
  EXPECT_EQ(server_.requests(), 1);  // not retried: a server that answers garbage will do so again
}

TEST_F(HttpClientTest, OversizedBodyIsUnavailable) {
  server_.SetFault(Fault::kOversizedBody);
  auto client = NewClient();
  EXPECT_THAT(SendAndWait(*client, Get(), Soon()),
              StatusIs(StatusCode::kUnavailable, HasSubstr("larger than the limit of 65536 bytes")));
}

TEST_F(HttpClientTest, HugeDeclaredContentLengthIsRefusedBeforeAnyAllocation) {
  server_.SetFault(Fault::kHugeContentLength);
  auto client = NewClient();
  EXPECT_THAT(SendAndWait(*client, Get(), Soon()),
              StatusIs(StatusCode::kUnavailable, HasSubstr("larger than the limit of 65536 bytes")));
}

TEST_F(HttpClientTest, OversizedChunkedBodyIsUnavailable) {
  server_.SetFault(Fault::kOversizedChunked);
  auto client = NewClient();
  EXPECT_THAT(SendAndWait(*client, Get(), Soon()),
              StatusIs(StatusCode::kUnavailable, HasSubstr("larger than the limit of 65536 bytes")));
}

TEST_F(HttpClientTest, ConnectionDroppedMidBodyOnceIsRetried) {
  server_.SetFault(Fault::kDropMidBody, 1);
  auto client = NewClient();
  auto r = SendAndWait(*client, Get(), Soon());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->attempts, 2);
}

TEST_F(HttpClientTest, ConnectionAlwaysDroppedMidBodyIsUnavailable) {
  server_.SetFault(Fault::kDropMidBody);
  auto client = NewClient();
  EXPECT_THAT(SendAndWait(*client, Get(), Soon()),
              StatusIs(StatusCode::kUnavailable, HasSubstr("closed in the middle of the response")));
  EXPECT_EQ(server_.requests(), 4);
}

TEST_F(HttpClientTest, PooledConnectionClosedByTheServerIsReplacedWithoutCountingAnAttempt) {
  auto client = NewClient();
  ASSERT_THAT(SendAndWait(*client, Get(), Soon()), IsOk());
  server_.SetFault(Fault::kCloseWithoutAnswer, 1);  // the pooled connection dies under the next request
  auto r = SendAndWait(*client, Get(), Soon());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(server_.accepted_connections(), 2);
}

TEST_F(HttpClientTest, WaitingForAFreeConnectionEndsAtTheDeadline) {
  ClientOptions o = FastOptions();
  o.max_connections = 1;
  auto client = NewClient(o);
  server_.SetFault(Fault::kStall, 1);
  auto stalled = std::make_shared<std::promise<Result<Response>>>();
  client->Send(Get(), In(std::chrono::seconds(20)), [stalled](Result<Response> r) { stalled->set_value(std::move(r)); });
  auto r = SendAndWait(*client, Get(), In(std::chrono::milliseconds(300)));
  EXPECT_THAT(r, StatusIs(StatusCode::kDeadlineExceeded, HasSubstr("no connection came free")));
  client->Shutdown();
  auto first = stalled->get_future();
  ASSERT_EQ(first.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_THAT(first.get(), StatusIs(StatusCode::kUnavailable, HasSubstr("shut down")));
}

TEST_F(HttpClientTest, ShutdownFailsRequestsInFlightPromptly) {
  server_.SetFault(Fault::kStall);
  auto client = NewClient();
  auto p = std::make_shared<std::promise<Result<Response>>>();
  client->Send(Get(), In(std::chrono::seconds(60)), [p](Result<Response> r) { p->set_value(std::move(r)); });
  client->Shutdown();  // runs after the request has started: the runtime runs posted work in order
  auto f = p->get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_THAT(f.get(), StatusIs(StatusCode::kUnavailable, HasSubstr("shut down")));
  EXPECT_THAT(SendAndWait(*client, Get(), Soon()), StatusIs(StatusCode::kUnavailable, HasSubstr("shut down")));
}

TEST_F(HttpClientTest, PlainHttpNeedsExplicitPermission) {
  auto origin = ParseUrl(server_.url());
  ASSERT_THAT(origin, IsOk());
  ClientOptions o;
  o.allow_plain_http = false;
  EXPECT_THAT(Client::Create(runtime_, *origin, o), StatusIs(StatusCode::kInvalidArgument, HasSubstr("plain HTTP")));
}

}  // namespace
}  // namespace keyward::http
