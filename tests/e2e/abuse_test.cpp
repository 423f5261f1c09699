// keyward-server against hostile clients (issue 6, "Abuse tests"): slow-loris clients, a burst of
// thousands of connections, bytes that are not HTTP, oversized headers, names that try to leave their
// scope, duplicate keys, deep nesting and wrong types in JSON bodies. Each is answered with its
// documented error (asserted exactly: status, code, message), and every scenario ends with the server
// still serving a normal resolve, `keyward-audit verify` passing on its log, and no secret value in any
// byte it wrote.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <thread>

#include "tests/e2e/e2e_util.h"
#include "tests/e2e/server_fixture.h"

namespace keyward::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

const std::string kNul(1, '\0');

std::string Repeat(const std::string& s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

// Raises this process's open-file limit to its hard limit (the server, started after, inherits it).
// Returns the new limit.
rlim_t RaiseFileLimit() {
  rlimit l{};
  ::getrlimit(RLIMIT_NOFILE, &l);
  l.rlim_cur = l.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &l);
  ::getrlimit(RLIMIT_NOFILE, &l);
  return l.rlim_cur;
}

// Requests to Vault's secret engine (the mount "secret/") by any method. The provider's own calls about
// its token and its mounts, which it may make at any time, are not counted.
int VaultSecretCalls(doubles::VaultDouble& vault) {
  int n = 0;
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE", "LIST"}) {
    n += vault.CountRequests(method, "/v1/secret/");
  }
  return n;
}

class ServerAbuseTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (IsSkipped()) return;
    // Whatever was thrown at it, the server still serves a normal request...
    ASSERT_TRUE(f_.running());
    const auto r =
        f_.Call("etl", "POST", "/v1/resolve", ResolveBody("prod", {Ref("env", "", "E2E_DB_PASSWORD")}));
    EXPECT_EQ(r.status, 200) << r.body;
    // ... stops cleanly, and its log verifies and holds no secret value.
    const std::string problems = f_.VerifyAndScan();
    EXPECT_EQ(problems, "") << f_.server_stderr();
  }

  // The reply of a request the server refuses by itself (431, 400 malformed HTTP, 503 too many
  // connections): its status, the JSON error with code and message, the X-Request-Id header equal to the
  // body's request_id, and Connection: close.
  static void ExpectRefusal(const testing::HttpReply& r, int status, const std::string& code,
                            const std::string& message) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/json");
    EXPECT_EQ(ErrorCode(r), code) << r.body;
    EXPECT_EQ(ErrorMessage(r), message) << r.body;
    EXPECT_FALSE(r.Header("x-request-id").empty());
    EXPECT_EQ(Body(r)["error"]["request_id"], r.Header("x-request-id"));
    EXPECT_EQ(r.Header("connection"), "close");
  }

  ServerFixture f_;
};

// --- slow clients -------------------------------------------------------------------------------------

// Slow-loris clients trickle their request one byte every 100 ms — far more often than any per-read
// timeout would need — and never finish it. Only a deadline on the whole request cuts them off. While
// 60 of them are connected, other clients are served; then every slow one is closed by the server,
// without an answer, no sooner than the read deadline.
TEST_F(ServerAbuseTest, SlowLorisClientsAreCutOffByTheReadDeadlineWhileOthersAreServed) {
  constexpr std::chrono::milliseconds kReadTimeout(3000);
  constexpr std::chrono::milliseconds kTrickle(100);
  f_.config()["limits"]["read_timeout_ms"] = kReadTimeout.count();
  f_.Start();

  enum class Kind { kHeaderByByte, kBodyByByte, kSilent };
  struct Slow {
    Kind kind;
    RawSocket socket;
    std::string prefix;  // then 'a' forever: the request is never complete
    std::size_t sent = 0;
    Clock::time_point started;  // before connecting
    std::optional<Clock::time_point> closed;
    std::string received;
  };
  const std::string header_prefix = "POST /v1/resolve HTTP/1.1\r\nHost: keyward\r\nAuthorization: Bearer " +
                                    f_.token("etl") + "\r\nX-Slow: ";
  const std::string body_prefix =
      "POST /v1/resolve HTTP/1.1\r\nHost: keyward\r\nAuthorization: Bearer " + f_.token("etl") +
      "\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"fabric\":\"prod\",\"x\":\"";
  std::vector<Slow> slow;
  for (int i = 0; i < 60; ++i) {
    // Taken before connecting (and so before the server can start any deadline for this connection):
    // a close observed kReadTimeout after it cannot be early.
    const auto before = Clock::now();
    auto s = RawSocket::Connect(f_.port());
    ASSERT_TRUE(s.has_value()) << std::strerror(errno);
    const Kind kind = i % 3 == 0 ? Kind::kHeaderByByte : i % 3 == 1 ? Kind::kBodyByByte : Kind::kSilent;
    Slow& x = slow.emplace_back(
        Slow{kind, std::move(*s), kind == Kind::kHeaderByByte ? header_prefix : "", 0, before, {}, {}});
    if (kind == Kind::kBodyByByte) {
      // The header at once, then the body byte by byte.
      ASSERT_TRUE(x.socket.Send(body_prefix));
      x.sent = body_prefix.size();
    } else if (kind == Kind::kHeaderByByte) {
      ASSERT_TRUE(x.socket.Send(x.prefix.substr(0, 1)));
      x.sent = 1;
    }
  }

  // The slow clients, on one thread: a byte on every open connection each kTrickle, and in between a
  // wait for the server to close them. Bounded only so that a server that never closes them fails.
  std::atomic<int> closed_count{0};
  std::thread slow_clients([&] {
    const auto give_up = Clock::now() + std::chrono::seconds(60);
    auto next_byte = Clock::now() + kTrickle;
    for (;;) {
      std::vector<pollfd> fds;
      std::vector<Slow*> open;
      for (Slow& x : slow) {
        if (x.closed) continue;
        fds.push_back({x.socket.fd(), POLLIN, 0});
        open.push_back(&x);
      }
      if (open.empty() || Clock::now() > give_up) return;
      const auto wait = std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(next_byte - Clock::now()).count());
      if (::poll(fds.data(), fds.size(), static_cast<int>(wait)) > 0) {
        for (std::size_t i = 0; i < fds.size(); ++i) {
          if (fds[i].revents == 0) continue;
          char buf[4096];
          const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
          if (n > 0) {
            open[i]->received.append(buf, static_cast<std::size_t>(n));
          } else if (n == 0 || errno != EINTR) {
            open[i]->closed = Clock::now();
            closed_count.fetch_add(1);
          }
        }
      }
      if (Clock::now() >= next_byte) {
        for (Slow* x : open) {
          if (x->closed || x->kind == Kind::kSilent) continue;
          const char byte = x->sent < x->prefix.size() ? x->prefix[x->sent] : 'a';
          if (x->socket.Send(std::string_view(&byte, 1))) ++x->sent;  // else: closed; the poll will see it
        }
        next_byte += kTrickle;
      }
    }
  });

  // Meanwhile, other clients are served: resolves on fresh connections, and on one kept alive.
  auto serve_others = [&] {
    const std::string resolve = ResolveBody("prod", {Ref("env", "", "E2E_DB_PASSWORD")});
    for (int i = 0; i < 5; ++i) EXPECT_EQ(f_.Call("etl", "POST", "/v1/resolve", resolve).status, 200);
    auto conn = testing::HttpConnection::Connect(f_.port());
    ASSERT_TRUE(conn.has_value());
    for (int i = 0; i < 10; ++i) {
      auto r = (*conn)->Request("GET", "/v1/fabrics", f_.Auth("etl"));
      ASSERT_TRUE(r.has_value()) << r.error().ToString();
      EXPECT_EQ(r->status, 200);
    }
  };
  serve_others();  // (a lambda: a failed ASSERT in it must not skip the join below)
  const int closed_while_others_were_served = closed_count.load();
  slow_clients.join();

  EXPECT_EQ(closed_while_others_were_served, 0)
      << "slow clients were closed before the other clients were served";
  for (std::size_t i = 0; i < slow.size(); ++i) {
    const Slow& x = slow[i];
    SCOPED_TRACE("slow client " + std::to_string(i) + " (kind " + std::to_string(static_cast<int>(x.kind)) +
                 ")");
    ASSERT_TRUE(x.closed.has_value()) << "the server never closed it (" << x.sent << " bytes sent)";
    EXPECT_EQ(x.received, "") << "a request not read in time is closed without an answer (docs/api.md)";
    EXPECT_GE(*x.closed - x.started, kReadTimeout) << "closed before its deadline";
    if (x.kind != Kind::kSilent) {
      EXPECT_GT(x.sent, (x.kind == Kind::kBodyByByte ? body_prefix.size() : 0) + 5) << "it was not trickling";
    }
  }
}

// --- a burst of connections ---------------------------------------------------------------------------

// 2500 connections opened at once from 5 threads, each sending a request, against max_connections =
// 1000. The server answers exactly 1000 of them (the connections it keeps: none of them is closed during
// the burst), refuses every other with 503 "too many connections" or closes it, never hangs, and
// serves normally once the burst is gone.
TEST_F(ServerAbuseTest, ABurstOfConnectionsBeyondTheLimitIsRefusedAndTheServerRecovers) {
  constexpr int kThreads = 5, kPerThread = 500, kMaxConnections = 1000;
  const rlim_t files = RaiseFileLimit();
  if (files < static_cast<rlim_t>(kThreads * kPerThread + 512)) {
    GTEST_SKIP() << "the open-file limit (" << files << ") is too low for " << kThreads * kPerThread
                 << " connections";
  }
  f_.config()["limits"]["max_connections"] = kMaxConnections;
  f_.config()["limits"]["read_timeout_ms"] = 120000;  // the kept connections must outlive the burst
  f_.config()["limits"]["idle_timeout_ms"] = 120000;
  f_.Start();
  const std::string resolve = ResolveBody("prod", {Ref("env", "", "E2E_DB_PASSWORD")});
  const std::string resolve_request =
      "POST /v1/resolve HTTP/1.1\r\nHost: keyward\r\nAuthorization: Bearer " + f_.token("etl") +
      "\r\nContent-Length: " + std::to_string(resolve.size()) + "\r\n\r\n" + resolve;
  const std::string health_request = "GET /healthz HTTP/1.1\r\nHost: keyward\r\n\r\n";

  struct Outcome {
    int ok = 0, ok_resolves = 0, refused_503 = 0, closed = 0, connect_failed = 0, hung = 0, other = 0;
    std::vector<std::string> others;
    std::vector<std::pair<std::int64_t, std::int64_t>> audit_ranges;  // of the resolves answered 200
  };
  std::vector<Outcome> outcomes(kThreads);
  std::vector<std::vector<RawSocket>> sockets(kThreads);  // kept open until every thread is done
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Outcome& o = outcomes[static_cast<std::size_t>(t)];
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      std::vector<RawSocket>& mine = sockets[static_cast<std::size_t>(t)];
      std::vector<bool> is_resolve;
      for (int i = 0; i < kPerThread; ++i) {
        auto s = RawSocket::Connect(f_.port());
        if (!s.has_value()) {
          ++o.connect_failed;
          continue;
        }
        mine.push_back(std::move(*s));
      }
      for (std::size_t i = 0; i < mine.size(); ++i) {
        is_resolve.push_back(i % 20 == 0);
        (void)mine[i].Send(is_resolve.back() ? resolve_request
                                             : health_request);  // a refused one may be closed already
      }
      for (std::size_t i = 0; i < mine.size(); ++i) {
        const RawSocket::Drained d = mine[i].ReadReply(std::chrono::seconds(60));
        const auto reply = ParseReply(d.bytes);
        if (!reply) {
          if (d.closed && d.bytes.empty()) {
            ++o.closed;
          } else if (!d.closed) {
            ++o.hung;
          } else {
            ++o.other;
            o.others.push_back("partial reply: " + d.bytes.substr(0, 200));
          }
          continue;
        }
        if (reply->status == 200) {
          ++o.ok;
          if (is_resolve[i]) {
            ++o.ok_resolves;
            const Json b = Body(*reply);
            if (b.is_object() && b.contains("audit") && b["audit"]["first_seq"].is_number_integer() &&
                b["audit"]["last_seq"].is_number_integer()) {
              o.audit_ranges.emplace_back(b["audit"]["first_seq"].get<std::int64_t>(),
                                          b["audit"]["last_seq"].get<std::int64_t>());
            } else {
              ++o.other;
              o.others.push_back("a resolve answered 200 without audit: " + reply->body.substr(0, 200));
            }
          }
        } else if (reply->status == 503 && ErrorCode(*reply) == "unavailable" &&
                   ErrorMessage(*reply) == "too many connections; try again later" &&
                   !reply->Header("x-request-id").empty() && reply->Header("connection") == "close") {
          ++o.refused_503;
        } else {
          ++o.other;
          o.others.push_back(std::to_string(reply->status) + " " + reply->body);
        }
      }
    });
  }
  while (ready.load() < kThreads) std::this_thread::yield();
  go = true;
  for (auto& th : threads) th.join();

  Outcome all;
  for (const Outcome& o : outcomes) {
    all.ok += o.ok;
    all.ok_resolves += o.ok_resolves;
    all.refused_503 += o.refused_503;
    all.closed += o.closed;
    all.connect_failed += o.connect_failed;
    all.hung += o.hung;
    all.other += o.other;
    all.others.insert(all.others.end(), o.others.begin(), o.others.end());
    all.audit_ranges.insert(all.audit_ranges.end(), o.audit_ranges.begin(), o.audit_ranges.end());
  }
  RecordProperty("answered_200", all.ok);
  RecordProperty("refused_503", all.refused_503);
  RecordProperty("closed_without_answer", all.closed);
  EXPECT_EQ(all.connect_failed, 0);
  EXPECT_EQ(all.hung, 0) << "connections neither answered nor closed within 60 s";
  EXPECT_EQ(all.other, 0) << ::testing::PrintToString(all.others);
  EXPECT_EQ(all.ok, kMaxConnections) << "the server keeps and answers exactly max_connections connections";
  EXPECT_EQ(all.refused_503 + all.closed, kThreads * kPerThread - kMaxConnections);
  EXPECT_GT(all.refused_503, 0) << "the documented refusal is a 503";
  EXPECT_GT(all.ok_resolves, 0);
  sockets.clear();

  // Once the burst is gone (the server notices each close on its own time), new clients are served.
  ASSERT_TRUE(WaitFor([&] { return f_.Call("", "GET", "/healthz").status == 200; }));
  // Every resolve answered 200 during the burst has its entry, for etl and the key it asked for.
  const auto entries = f_.AuditEntries();
  for (const auto& [first, last] : all.audit_ranges) {
    ASSERT_EQ(first, last);
    ASSERT_LE(last, static_cast<std::int64_t>(entries.size()));
    const audit::Entry& e = entries[static_cast<std::size_t>(first - 1)];
    EXPECT_EQ(e.seq, first);
    EXPECT_EQ(e.record.principal, "etl");
    EXPECT_EQ(e.record.key, "E2E_DB_PASSWORD");
    EXPECT_EQ(e.record.decision, "allow");
  }
}

// A server out of file descriptors — its open-file limit lowered under it (prlimit) below the connections
// it is asked to keep, as when other descriptors use up a limit that max_connections did not account for —
// facing more kept-alive clients than it has descriptors. Each pending connection must be served or
// refused (accepted and closed at once, through the descriptor the server keeps in reserve), none left
// hanging in the backlog; the server keeps serving the connections it has and, once they close, new ones.
// (Before the fix, HttpServer::Impl::Accept re-armed async_accept at once on EMFILE: the backlog was
// neither served nor refused, and the I/O thread spun on the failing accept.)
TEST_F(ServerAbuseTest, ConnectionsBeyondTheOpenFileLimitAreRefusedNotLeftHanging) {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizer runtimes need descriptors of their own: out of them, UBSan's vptr check cannot probe
  // memory (it opens a pipe to do so) and reports every virtual call as a bad one. The debug build runs it.
  GTEST_SKIP() << "a sanitized server cannot run out of descriptors without false reports";
#endif
  constexpr rlim_t kServerFiles = 256;
  constexpr int kClients = 400;
  rlimit mine{};
  ::getrlimit(RLIMIT_NOFILE, &mine);
  if (mine.rlim_max < kClients + 256)
    GTEST_SKIP() << "the open-file limit is too low for " << kClients << " connections";
  if (mine.rlim_cur < kClients + 256) {
    mine.rlim_cur = mine.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &mine), 0);
  }
  f_.Start();
  const rlimit low{kServerFiles, kServerFiles};
  ASSERT_EQ(::prlimit(f_.pid(), RLIMIT_NOFILE, &low, nullptr), 0) << std::strerror(errno);

  std::vector<RawSocket> clients;
  for (int i = 0; i < kClients; ++i) {
    auto s = RawSocket::Connect(f_.port());
    ASSERT_TRUE(s.has_value()) << std::strerror(errno);
    ASSERT_TRUE(s->Send("GET /healthz HTTP/1.1\r\nHost: keyward\r\n\r\n"));
    clients.push_back(std::move(*s));
  }
  // Each connection must get its answer (200) or its refusal (503, or closed); all stay open on our side.
  std::vector<std::string> received(clients.size());
  std::vector<bool> done(clients.size(), false);
  const auto give_up = Clock::now() + std::chrono::seconds(10);
  int ok = 0, refused = 0;
  while (ok + refused < kClients && Clock::now() < give_up) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (done[i]) continue;
      fds.push_back({clients[i].fd(), POLLIN, 0});
      index.push_back(i);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - Clock::now()).count();
    if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<std::int64_t>(0, left))) <= 0) continue;
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      const std::size_t i = index[k];
      char buf[4096];
      const ssize_t n = ::recv(fds[k].fd, buf, sizeof buf, 0);
      if (n > 0) received[i].append(buf, static_cast<std::size_t>(n));
      const auto reply = ParseReply(received[i]);
      if (reply && reply->status == 200) {
        done[i] = true;
        ++ok;
      } else if ((reply && reply->status == 503 && ErrorCode(*reply) == "unavailable") || n == 0 ||
                 (n < 0 && errno != EINTR)) {
        done[i] = true;
        ++refused;
      }
    }
  }
  RecordProperty("answered_200", ok);
  RecordProperty("refused", refused);
  EXPECT_EQ(ok + refused, kClients) << kClients - ok - refused
                                    << " connections were neither answered nor refused (" << ok
                                    << " answered, " << refused << " refused)";
  EXPECT_GT(ok, 0);
  EXPECT_GT(refused, 0) << "the limit did not bite: the test no longer tests running out of descriptors";
  // Once the kept-alive connections close, the server accepts and serves again.
  clients.clear();
  int last_status = 0;
  EXPECT_TRUE(WaitFor([&] {
    auto s = RawSocket::Connect(f_.port());
    if (!s || !s->Send("GET /healthz HTTP/1.1\r\nHost: keyward\r\n\r\n")) return false;
    const auto reply = ParseReply(s->ReadReply(std::chrono::seconds(2)).bytes);
    last_status = reply ? reply->status : 0;
    return last_status == 200;
  }, std::chrono::seconds(10))) << "last status " << last_status;
}

// --- bytes that are not HTTP --------------------------------------------------------------------------

// Garbage instead of a request: answered 400 "malformed HTTP request: ..." and closed, or (when the
// bytes leave the parser waiting for more) closed by the read deadline without an answer. Random
// payloads (the seed is printed to replay a failure), then handmade ones with their exact parser error.
TEST_F(ServerAbuseTest, RandomBytesInsteadOfHttpAreAnswered400OrClosed) {
  f_.config()["limits"]["read_timeout_ms"] = 1000;
  f_.Start();
  const std::uint64_t seed = TestSeed();
  RecordProperty("seed", std::to_string(seed));
  SCOPED_TRACE("KEYWARD_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  int answered = 0;
  for (int i = 0; i < 40; ++i) {
    std::string payload(std::uniform_int_distribution<std::size_t>(1, 3000)(rng), '\0');
    for (char& c : payload) c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    auto s = RawSocket::Connect(f_.port());
    ASSERT_TRUE(s.has_value());
    (void)s->Send(payload);  // the server may have refused and closed already
    const RawSocket::Drained d = s->ReadUntilClosed();
    SCOPED_TRACE("payload " + std::to_string(i) + " of " + std::to_string(payload.size()) + " bytes");
    ASSERT_TRUE(d.closed) << "neither answered nor closed";
    if (d.bytes.empty()) continue;
    const auto reply = ParseReply(d.bytes);
    ASSERT_TRUE(reply.has_value()) << d.bytes;
    EXPECT_EQ(reply->status, 400);
    EXPECT_EQ(ErrorCode(*reply), "invalid_argument");
    EXPECT_THAT(ErrorMessage(*reply), StartsWith("malformed HTTP request: "));
    EXPECT_EQ(reply->Header("connection"), "close");
    EXPECT_EQ(d.bytes.size(), d.bytes.find("\r\n\r\n") + 4 + reply->body.size())
        << "one answer, then the connection is closed";
    ++answered;
  }
  EXPECT_GT(answered, 0) << "random bytes are almost never a request prefix: most must be answered 400";

  const struct {
    const char* name;
    std::string bytes;
    std::string message;
  } kHandmade[] = {
      {"a TLS ClientHello on the plain port",
       std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11) + std::string(64, 'r'),
       "malformed HTTP request: bad method"},
      {"NUL bytes", std::string(8, '\0') + "\r\n\r\n", "malformed HTTP request: bad method"},
      {"a NUL in the target", "GET /healthz" + kNul + " HTTP/1.1\r\nHost: x\r\n\r\n",
       "malformed HTTP request: bad target"},
      {"an unknown version", "GET /healthz HTTP/7.1\r\nHost: x\r\n\r\n",
       "malformed HTTP request: bad version"},
      {"a control byte in a field name", "GET /healthz HTTP/1.1\r\nHost: x\r\nX\x01Y: 1\r\n\r\n",
       "malformed HTTP request: bad field"},
      {"a negative Content-Length", "POST /v1/resolve HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
       "malformed HTTP request: bad Content-Length"},
      {"a malformed chunk",
       "POST /v1/resolve HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       "malformed HTTP request: bad chunk"},
      {"a chunk size that overflows",
       "POST /v1/resolve HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
       "malformed HTTP request: bad chunk"},
      // Request smuggling: two lengths that disagree, and a length beside chunked encoding.
      {"two Content-Lengths",
       "POST /v1/resolve HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
       "malformed HTTP request: bad Content-Length"},
      {"Content-Length and chunked",
       "POST /v1/resolve HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: "
       "5\r\n\r\n0\r\n\r\n",
       "malformed HTTP request: bad Content-Length"},
  };
  for (const auto& c : kHandmade) {
    SCOPED_TRACE(c.name);
    auto s = RawSocket::Connect(f_.port());
    ASSERT_TRUE(s.has_value());
    (void)s->Send(c.bytes);
    const RawSocket::Drained d = s->ReadUntilClosed();
    ASSERT_TRUE(d.closed);
    const auto reply = ParseReply(d.bytes);
    ASSERT_TRUE(reply.has_value()) << "closed without an answer";
    ExpectRefusal(*reply, 400, "invalid_argument", c.message);
  }

  // Garbage after a good request on a kept-alive connection: the request is answered, then the garbage.
  auto s = RawSocket::Connect(f_.port());
  ASSERT_TRUE(s.has_value());
  ASSERT_TRUE(
      s->Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\n\x80\xff garbage\r\n\r\n"));
  const RawSocket::Drained d = s->ReadUntilClosed();
  EXPECT_TRUE(d.closed);
  const auto first = ParseReply(d.bytes);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->Header("x-request-id"), "first");
  const auto second = ParseReply(d.bytes.substr(d.bytes.find("\r\n\r\n") + 4 + first->body.size()));
  ASSERT_TRUE(second.has_value()) << d.bytes;
  ExpectRefusal(*second, 400, "invalid_argument", "malformed HTTP request: bad method");
}

// --- oversized headers --------------------------------------------------------------------------------

// A request header over limits.max_header_bytes (8192 here, the default) — one huge field, many small
// ones, a huge target — is answered 431 with a JSON error and a request id (the client's when its field
// was read before the limit), and the connection is closed. Just under the limit is served.
TEST_F(ServerAbuseTest, HeadersOverTheLimitAre431WithAJsonErrorAndARequestId) {
  f_.Start();
  const std::string message = "request header larger than 8192 bytes";
  std::string many;
  for (int i = 0; i < 400; ++i) many += "X-Field-" + std::to_string(i) + ": " + std::string(20, 'v') + "\r\n";
  const struct {
    const char* name;
    std::string request;
    std::string client_id;  // expected to be echoed; "" = the server makes one
  } kCases[] = {
      {"one field of 20000 bytes",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(20000, 'a') + "\r\n\r\n", ""},
      {"400 small fields", "GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + "\r\n", ""},
      {"a target of 10000 bytes",
       "GET /v1/fabrics/" + std::string(10000, 'f') + "/secrets HTTP/1.1\r\nHost: x\r\n\r\n", ""},
      {"the client's request id first",
       "GET /healthz HTTP/1.1\r\nX-Request-Id: abuse-431.1\r\nX-Padding: " + std::string(9000, 'a') +
           "\r\n\r\n",
       "abuse-431.1"},
      {"a field that never ends", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + std::string(9000, 'a'),
       ""},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    auto s = RawSocket::Connect(f_.port());
    ASSERT_TRUE(s.has_value());
    (void)s->Send(c.request);
    const RawSocket::Drained d = s->ReadUntilClosed();
    EXPECT_TRUE(d.closed) << "the connection is closed after a 431";
    const auto reply = ParseReply(d.bytes);
    ASSERT_TRUE(reply.has_value()) << "no answer: " << d.bytes;
    ExpectRefusal(*reply, 431, "invalid_argument", message);
    if (!c.client_id.empty()) {
      EXPECT_EQ(reply->Header("x-request-id"), c.client_id);
    } else {
      EXPECT_THAT(reply->Header("x-request-id"), StartsWith("kw-"));
    }
  }
  // Under the limit: served.
  auto under = testing::Http(f_.port(), "GET", "/healthz", {{"X-Padding", std::string(7000, 'a')}});
  ASSERT_TRUE(under.has_value());
  EXPECT_EQ(under->status, 200);
}

// --- names that try to leave their scope --------------------------------------------------------------

struct NameCase {
  const char* name;
  std::string provider, scope, key;
  std::string reason;  // denied[0].reason: the naming rule that was broken
};

std::string Malformed(const std::string& provider, const std::string& scope, const std::string& key) {
  return provider + ":" + (scope.empty() ? "" : scope + "/") + key +
         " is malformed for its provider; nothing was fetched";
}

// `..`, `.`, `/`, NUL and empty segments in the scope and key of a resolve body: each is refused with 400
// invalid_argument naming the ref and the naming rule it breaks, nothing is fetched, and the refusal is
// recorded with the exact bytes the client sent.
TEST_F(ServerAbuseTest, NavigationSlashesAndNulInResolveNamesAre400) {
  f_.Start();
  const std::string kDbxScopeChars = "letters, digits, '-', '_', '.', '@'";
  const NameCase kCases[] = {
      {"'..' in a vault scope", "vault", "secret/../app", "token",
       "vault path 'secret/../app' has a '..' segment; paths must not navigate"},
      {"'..' ending a vault scope", "vault", "secret/app/..", "token",
       "vault path 'secret/app/..' has a '..' segment; paths must not navigate"},
      {"'.' in a vault scope", "vault", "secret/./app", "token",
       "vault path 'secret/./app' has a '.' segment; paths must not navigate"},
      {"a vault scope from the root", "vault", "/secret/app", "token",
       "vault path '/secret/app' must not start with '/'"},
      {"an empty vault segment", "vault", "secret//app", "token",
       "vault path 'secret//app' has an empty segment"},
      {"'/' in a vault key", "vault", "secret/app", "../token",
       "vault key '../token' contains '/': a key is one entry of the map stored at the path; put path "
       "segments in the scope"},
      {"NUL in a vault scope", "vault", "secret/app" + kNul, "token",
       "vault path 'secret/app\\x00' contains a control character"},
      {"NUL in a vault key", "vault", "secret/app", "tok" + kNul + "en",
       "vault key 'tok\\x00en' contains a control character"},
      {"'..' after a databricks scope", "dbx", "admin-scope/..", "k",
       "databricks scope 'admin-scope/..' has a character that is not allowed at position 11 (allowed: " +
           kDbxScopeChars + ")"},
      {"'../' in a databricks key", "dbx", "admin-scope", "../k",
       "databricks key '../k' has a character that is not allowed at position 2 (allowed: letters, digits, "
       "'-', '_', '.')"},
      {"NUL in a databricks key", "dbx", "admin-scope", "k" + kNul,
       "databricks key 'k\\x00' has a character that is not allowed at position 1 (allowed: letters, digits, "
       "'-', '_', '.')"},
      {"'..' as an environment scope", "env", "..", "E2E_DB_PASSWORD",
       "environment variables have no scope, got scope '..'"},
      {"'../' in an environment name", "env", "", "../E2E_DB_PASSWORD",
       "environment variable name '../E2E_DB_PASSWORD' has a character that is not allowed at position 0 "
       "(allowed: [A-Za-z_][A-Za-z0-9_]*)"},
      {"NUL in an environment name", "env", "", "E2E_" + kNul,
       "environment variable name 'E2E_\\x00' has a character that is not allowed at position 4 (allowed: "
       "[A-Za-z_][A-Za-z0-9_]*)"},
  };
  const int vault_calls = VaultSecretCalls(f_.vault()), dbx_calls = f_.databricks().server().requests();
  std::vector<std::pair<std::string, const NameCase*>> refused;  // request id, case
  for (const NameCase& c : kCases) {
    SCOPED_TRACE(c.name);
    const auto r =
        f_.Call("admin", "POST", "/v1/resolve", ResolveBody("prod", {Ref(c.provider, c.scope, c.key)}));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_argument");
    EXPECT_EQ(ErrorMessage(r), Malformed(c.provider, c.scope, c.key));
    const Json denied = Body(r)["error"]["denied"];
    ASSERT_EQ(denied.size(), 1u) << r.body;
    EXPECT_EQ(denied[0]["decided_by"], "constraint:invalid-secret-ref");
    EXPECT_EQ(denied[0]["reason"], c.reason);
    EXPECT_EQ(denied[0]["scope"], c.scope);
    EXPECT_EQ(denied[0]["key"], c.key);
    refused.emplace_back(r.Header("x-request-id"), &c);
  }
  // A malformed ref next to a good one: the batch is refused as a whole, the good one not fetched either.
  const auto mixed = f_.Call("admin", "POST", "/v1/resolve",
                             ResolveBody("prod", {Ref("vault", "secret/app", "token"),
                                                  Ref("vault", "secret/../etl", "db_password")}));
  EXPECT_EQ(mixed.status, 400);
  EXPECT_EQ(ErrorMessage(mixed), Malformed("vault", "secret/../etl", "db_password"));
  EXPECT_THAT(mixed.body, Not(HasSubstr(f_.secret_values()[3])));
  EXPECT_EQ(VaultSecretCalls(f_.vault()), vault_calls) << "nothing is fetched for a malformed ref";
  EXPECT_EQ(f_.databricks().server().requests(), dbx_calls);

  // Each refusal is recorded, with the names exactly as sent (NUL included).
  const auto entries = f_.AuditEntries();
  for (const auto& [id, c] : refused) {
    SCOPED_TRACE(c->name);
    const audit::Entry* found = nullptr;
    for (const auto& e : entries) {
      if (e.record.request_id == id) found = &e;
    }
    ASSERT_NE(found, nullptr) << "no audit entry for request " << id;
    EXPECT_EQ(found->record.decision, "deny");
    EXPECT_EQ(found->record.reason, "constraint:invalid-secret-ref");
    EXPECT_EQ(found->record.principal, "admin");
    EXPECT_EQ(found->record.scope, c->scope);
    EXPECT_EQ(found->record.key, c->key);
  }
}

// Where ".." is a legal name — a Vault key (one entry of the map stored at a path) or a Databricks key
// (letters, digits, '-', '_', '.') — it is only a name, never a step up: the provider is asked for that
// entry of exactly the scope given, and answers that there is none.
TEST_F(ServerAbuseTest, DotDotWhereItIsALegalNameDoesNotNavigate) {
  f_.databricks().CreateScope("admin-scope");
  f_.Start();
  // (Besides secrets, the Vault provider asks about its token and the mount once: not counted here.)
  const int vault_app = f_.vault().CountRequests("GET", "/v1/secret/data/app");
  const int vault_secret = f_.vault().CountRequests("GET", "/v1/secret/");
  const auto v =
      f_.Call("admin", "POST", "/v1/resolve", ResolveBody("prod", {Ref("vault", "secret/app", "..")}));
  EXPECT_EQ(v.status, 404) << v.body;
  EXPECT_EQ(ErrorCode(v), "not_found");
  EXPECT_THAT(ErrorMessage(v), StartsWith("vault:secret/app/..: "));
  EXPECT_EQ(f_.vault().CountRequests("GET", "/v1/secret/data/app"), vault_app + 1);
  EXPECT_EQ(f_.vault().CountRequests("GET", "/v1/secret/"), vault_secret + 1)
      << "Vault was asked for another path";
  EXPECT_EQ(f_.vault().CountRequests("GET", "/v1/secret/data/app/"), 0) << "the key went into the path";
  const int dbx_gets = f_.databricks().CountRequests("GET", "/api/2.0/secrets/get"),
            dbx_all = f_.databricks().server().requests();
  const auto d =
      f_.Call("admin", "POST", "/v1/resolve", ResolveBody("prod", {Ref("dbx", "admin-scope", "..")}));
  EXPECT_EQ(d.status, 404) << d.body;
  EXPECT_EQ(ErrorCode(d), "not_found");
  EXPECT_THAT(ErrorMessage(d), StartsWith("dbx:admin-scope/..: "));
  EXPECT_EQ(f_.databricks().CountRequests("GET", "/api/2.0/secrets/get"), dbx_gets + 1);
  EXPECT_EQ(f_.databricks().server().requests(), dbx_all + 1);
}

// Names that are not UTF-8 cannot be written in JSON: raw ill-formed bytes (an invalid byte, an overlong
// encoding of "..") and a lone surrogate escape are refused by the JSON reader with the pointer of the
// string, before anything is decided or recorded.
TEST_F(ServerAbuseTest, NonUtf8InResolveNamesIs400) {
  f_.Start();
  const struct {
    const char* name;
    std::string body;
    std::string message;
  } kCases[] = {
      {"a byte 0xff in a key",
       "{\"fabric\":\"prod\",\"secrets\":[{\"provider\":\"vault\",\"scope\":\"secret/"
       "app\",\"key\":\"tok\xff\"}]}",
       "invalid JSON at line 1, column 80 (inside /secrets/0/key): syntax error while parsing value - "
       "invalid string: "
       "ill-formed UTF-8 byte"},
      {"an overlong '..' in a scope",
       "{\"fabric\":\"prod\",\"secrets\":[{\"provider\":\"vault\",\"scope\":\"secret/\xc0\xae\xc0\xae/"
       "app\",\"key\":\"token\"}]}",
       "invalid JSON at line 1, column 65 (inside /secrets/0/scope): syntax error while parsing value - "
       "invalid string: "
       "ill-formed UTF-8 byte"},
      {"a lone surrogate in a key",
       R"({"fabric":"prod","secrets":[{"provider":"vault","scope":"secret/app","key":"\udc00"}]})",
       "invalid JSON at line 1, column 82 (inside /secrets/0/key): syntax error while parsing value - "
       "invalid string: "
       "surrogate U+DC00..U+DFFF must follow "
       "U+D800..U+DBFF"},
  };
  const std::size_t recorded = f_.AuditEntries().size();
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    const auto r = f_.Call("admin", "POST", "/v1/resolve", c.body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_argument");
    EXPECT_EQ(ErrorMessage(r), c.message);
  }
  EXPECT_EQ(f_.AuditEntries().size(), recorded)
      << "a body that is not JSON is refused before anything is recorded";
}

// The same names in the path of a write or a delete: the path is split at '/', each segment
// percent-decoded; an encoded '/', bytes that are not UTF-8 once decoded, and names malformed for the
// provider are 400 with their documented message, the provider is never called, and only the malformed
// names (which reach the policy) are recorded, as denials.
TEST_F(ServerAbuseTest, NavigationNulAndNonUtf8InWriteAndDeletePathsAre400) {
  const std::string value = "HOSTILE-WRITE-VALUE-5a5a5a5a";
  f_.AddSecretValue(value);
  f_.Start();
  const std::string base = "/v1/fabrics/prod/secrets/vault/";
  const std::string not_utf8 = "the path is not valid UTF-8 once percent-decoded";
  // Unlike a resolve (whose `denied` names the naming rule broken) and a list (whose message does), a
  // write or delete says only this (docs/api.md, "Write and delete").
  const std::string malformed = ": the secret reference is malformed for its provider type";
  const struct {
    const char* method;
    std::string path;  // after base
    std::string message;
  } kCases[] = {
      {"PUT", "secret/../app/x", "vault:secret/../app/x" + malformed},
      {"PUT", "secret/%2E%2E/app/x", "vault:secret/../app/x" + malformed},
      {"DELETE", "secret/app/../x", "vault:secret/app/../x" + malformed},
      {"PUT", "secret/./app/x", "vault:secret/./app/x" + malformed},
      {"PUT", "secret%2Fapp/x", "a path segment must not contain an encoded '/': send it as a separator"},
      {"DELETE", "secret/app%2F..%2Fetl/x",
       "a path segment must not contain an encoded '/': send it as a separator"},
      {"PUT", "/secret/app/x", "vault:/secret/app/x" + malformed},
      {"DELETE", "secret/app/", "vault:secret/app/" + malformed},
      {"PUT", "secret/app/x%00y", "vault:secret/app/x" + kNul + "y" + malformed},
      {"DELETE", "secret%00/app/x", "vault:secret" + kNul + "/app/x" + malformed},
      {"PUT", "secret/app/%FF", not_utf8},
      {"DELETE", "secret/%C0%AE%C0%AE/x", not_utf8},
      {"PUT", "secret/app/\xff\xfe", not_utf8},
      {"DELETE", "secret/app/%ED%A0%80", not_utf8},  // an encoded surrogate
  };
  const int vault_calls = VaultSecretCalls(f_.vault());
  const std::size_t recorded_before = f_.AuditEntries().size();
  std::size_t expect_recorded = 0;
  for (const auto& c : kCases) {
    SCOPED_TRACE(std::string(c.method) + " " + base + c.path);
    const std::string body = std::string(c.method) == "PUT" ? R"({"value":")" + value + "\"}" : "";
    const auto r = f_.Call("admin", c.method, base + c.path, body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_argument");
    EXPECT_EQ(ErrorMessage(r), c.message);
    EXPECT_THAT(r.body, Not(HasSubstr(value)));
    // Malformed names reach the resolver and are recorded as denials; malformed paths are refused before.
    if (c.message.rfind("vault:", 0) == 0) ++expect_recorded;
  }
  EXPECT_EQ(VaultSecretCalls(f_.vault()), vault_calls) << "the provider is never called for a malformed name";
  EXPECT_EQ(f_.AuditEntries().size(), recorded_before + expect_recorded);
  // A raw NUL in the target is not HTTP at all: the server's own 400.
  auto s = RawSocket::Connect(f_.port());
  ASSERT_TRUE(s.has_value());
  ASSERT_TRUE(s->Send("DELETE " + base + "secret/app/x" + kNul +
                      "y HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + f_.token("admin") + "\r\n\r\n"));
  const auto reply = ParseReply(s->ReadUntilClosed().bytes);
  ASSERT_TRUE(reply.has_value());
  ExpectRefusal(*reply, 400, "invalid_argument", "malformed HTTP request: bad target");
}

// The same names in a list's query string (where '%2F' is allowed: it is a value, not a path).
TEST_F(ServerAbuseTest, NavigationNulAndNonUtf8InListQueriesAre400) {
  f_.Start();
  const std::string not_utf8 = "the query string is not valid UTF-8 once percent-decoded";
  const struct {
    std::string query;
    std::string message;
  } kCases[] = {
      {"provider=vault&scope=secret/../app",
       "vault path 'secret/../app' has a '..' segment; paths must not navigate"},
      {"provider=vault&scope=secret%2F..%2Fapp",
       "vault path 'secret/../app' has a '..' segment; paths must not navigate"},
      {"provider=vault&scope=..", "vault path '..' has a '..' segment; paths must not navigate"},
      {"provider=vault&scope=%2Fsecret", "vault path '/secret' must not start with '/'"},
      {"provider=vault&scope=secret/", "vault path 'secret/' must not end with '/'"},
      {"provider=vault&scope=secret%00", "vault path 'secret\\x00' contains a control character"},
      {"provider=vault&scope=secret/app%00/x", "vault path 'secret/app\\x00/x' contains a control character"},
      {"provider=vault&scope=%FF", not_utf8},
      {"provider=vault&scope=secret/%C0%AE%C0%AE", not_utf8},
      {"provider=env&scope=..", "environment variables have no scope, got scope '..'"},
      {"provider=dbx&scope=admin-scope/..",
       "databricks scope 'admin-scope/..' has a character that is not allowed at position 11 (allowed: "
       "letters, digits, '-', "
       "'_', '.', '@')"},
      {"provider=dbx&scope=admin-scope%00",
       "databricks scope 'admin-scope\\x00' has a character that is not allowed at "
       "position 11 (allowed: letters, digits, '-', '_', '.', '@')"},
  };
  const int vault_calls = VaultSecretCalls(f_.vault()), dbx_calls = f_.databricks().server().requests();
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.query);
    const auto r = f_.Call("admin", "GET", "/v1/fabrics/prod/secrets?" + c.query);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_argument");
    EXPECT_EQ(ErrorMessage(r), c.message);
  }
  EXPECT_EQ(VaultSecretCalls(f_.vault()), vault_calls)
      << "the provider is never asked to list a malformed scope";
  EXPECT_EQ(f_.databricks().server().requests(), dbx_calls);
}

// --- JSON bodies --------------------------------------------------------------------------------------

TEST_F(ServerAbuseTest, DuplicateJsonKeysAre400) {
  const std::string first = "DUPLICATE-VALUE-1-0d0d0d0d", second = "DUPLICATE-VALUE-2-e1e1e1e1";
  f_.AddSecretValue(first);
  f_.AddSecretValue(second);
  f_.Start();
  const struct {
    const char* name;
    const char* method;
    std::string target, body, message;
  } kCases[] = {
      {"fabric twice", "POST", "/v1/resolve",
       R"({"fabric":"emr","fabric":"prod","secrets":[{"provider":"env","key":"E2E_DB_PASSWORD"}]})",
       "invalid JSON: duplicate key 'fabric' in the top-level object"},
      {"fabric twice, once escaped", "POST", "/v1/resolve",
       R"({"fabric":"emr","fabr\u0069c":"prod","secrets":[{"provider":"env","key":"E2E_DB_PASSWORD"}]})",
       "invalid JSON: duplicate key 'fabric' in the top-level object"},
      {"key twice in a ref", "POST", "/v1/resolve",
       R"({"fabric":"prod","secrets":[{"provider":"env","key":"E2E_DB_PASSWORD","key":"E2E_OTHER"}]})",
       "invalid JSON: duplicate key 'key' in the object at /secrets/0"},
      {"secrets twice", "POST", "/v1/resolve",
       R"({"fabric":"prod","secrets":[],"secrets":[{"provider":"env","key":"E2E_DB_PASSWORD"}]})",
       "invalid JSON: duplicate key 'secrets' in the top-level object"},
      {"value twice in a write", "PUT", "/v1/fabrics/prod/secrets/vault/secret/app/x",
       R"({"value":")" + first + R"(","value":")" + second + R"("})",
       "invalid JSON: duplicate key 'value' in the top-level object"},
  };
  const std::size_t recorded = f_.AuditEntries().size();
  const int vault_calls = VaultSecretCalls(f_.vault());
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    const auto r = f_.Call(std::string(c.method) == "PUT" ? "admin" : "etl", c.method, c.target, c.body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_argument");
    EXPECT_EQ(ErrorMessage(r), c.message);
    EXPECT_THAT(r.body, Not(HasSubstr(first)));
    EXPECT_THAT(r.body, Not(HasSubstr(second)));
  }
  EXPECT_EQ(f_.AuditEntries().size(), recorded);
  EXPECT_EQ(VaultSecretCalls(f_.vault()), vault_calls);
}

// 100000 levels of '[' (and of '{"a":') are refused at the nesting limit (8 for resolve, 4 for a write)
// without recursing into them; one level less than the limit is parsed (and refused for its shape).
TEST_F(ServerAbuseTest, DeeplyNestedJsonIs400) {
  f_.config()["limits"]["max_body_bytes"] = 1 << 20;  // room for the deep documents: the parser must see them
  f_.Start();
  const std::string deep_arrays = Repeat("[", 100000) + Repeat("]", 100000);
  const std::string deep_objects = Repeat(R"({"a":)", 100000) + "1" + Repeat("}", 100000);
  const struct {
    const char* name;
    const char* method;
    std::string target, body, message;
  } kCases[] = {
      {"100000 arrays", "POST", "/v1/resolve", deep_arrays,
       "invalid JSON: nesting deeper than 8 levels at /0/0/0/0/0/0/0/0"},
      {"100000 objects", "POST", "/v1/resolve", deep_objects,
       "invalid JSON: nesting deeper than 8 levels at /a/a/a/a/a/a/a/a"},
      {"100000 unclosed arrays", "POST", "/v1/resolve", Repeat("[", 100000),
       "invalid JSON: nesting deeper than 8 levels at /0/0/0/0/0/0/0/0"},
      {"deep inside secrets", "POST", "/v1/resolve", R"({"fabric":"prod","secrets":)" + deep_arrays + "}",
       "invalid JSON: nesting deeper than 8 levels at /secrets/0/0/0/0/0/0/0"},
      {"9 levels", "POST", "/v1/resolve", R"({"fabric":"prod","secrets":[[[[[[[[]]]]]]]]})",
       "invalid JSON: nesting deeper than 8 levels at /secrets/0/0/0/0/0/0/0"},
      {"8 levels: parsed, then refused for its shape", "POST", "/v1/resolve",
       R"({"fabric":"prod","secrets":[[[[[[[]]]]]]]})", "/secrets/0: expected an object, got an array"},
      {"a write, 100000 arrays", "PUT", "/v1/fabrics/prod/secrets/vault/secret/app/x",
       R"({"value":)" + deep_arrays + "}", "invalid JSON: nesting deeper than 4 levels at /value/0/0/0"},
  };
  const std::size_t recorded = f_.AuditEntries().size();
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    const auto r = f_.Call(std::string(c.method) == "PUT" ? "admin" : "etl", c.method, c.target, c.body);
    EXPECT_EQ(r.status, 400) << r.body.substr(0, 500);
    EXPECT_EQ(ErrorCode(r), "invalid_argument");
    EXPECT_EQ(ErrorMessage(r), c.message);
  }
  EXPECT_EQ(f_.AuditEntries().size(), recorded);
}

// Numbers, booleans, arrays, objects and null where a string belongs: 400 with the JSON pointer of the
// value, and what was found.
TEST_F(ServerAbuseTest, WrongJsonTypesAre400WithTheirPointer) {
  f_.Start();
  const std::string ref = R"({"provider":"env","key":"E2E_DB_PASSWORD"})";
  const struct {
    const char* method;
    std::string target, body, message;
  } kCases[] = {
      {"POST", "/v1/resolve", R"({"fabric":7,"secrets":[)" + ref + "]}",
       "/fabric: expected a string, got an integer"},
      {"POST", "/v1/resolve", R"({"fabric":-1.5e300,"secrets":[)" + ref + "]}",
       "/fabric: expected a string, got a number"},
      {"POST", "/v1/resolve", R"({"fabric":null,"secrets":[)" + ref + "]}",
       "/fabric: expected a string, got null"},
      {"POST", "/v1/resolve", R"({"fabric":true,"secrets":[)" + ref + "]}",
       "/fabric: expected a string, got a boolean"},
      {"POST", "/v1/resolve", R"({"fabric":["prod"],"secrets":[)" + ref + "]}",
       "/fabric: expected a string, got an array"},
      {"POST", "/v1/resolve", R"({"fabric":{"id":"prod"},"secrets":[)" + ref + "]}",
       "/fabric: expected a string, got an object"},
      {"POST", "/v1/resolve", R"({"fabric":"prod","secrets":"E2E_DB_PASSWORD"})",
       "/secrets: expected an array, got a string"},
      {"POST", "/v1/resolve", R"({"fabric":"prod","secrets":null})", "/secrets: expected an array, got null"},
      {"POST", "/v1/resolve", R"({"fabric":"prod","secrets":[7]})",
       "/secrets/0: expected an object, got an integer"},
      {"POST", "/v1/resolve", R"({"fabric":"prod","secrets":[{"provider":1,"key":"E2E_DB_PASSWORD"}]})",
       "/secrets/0/provider: expected a string, got an integer"},
      {"POST", "/v1/resolve",
       R"({"fabric":"prod","secrets":[{"provider":"env","scope":{},"key":"E2E_DB_PASSWORD"}]})",
       "/secrets/0/scope: expected a string, got an object"},
      {"POST", "/v1/resolve", R"({"fabric":"prod","secrets":[{"provider":"env","key":null}]})",
       "/secrets/0/key: expected a string, got null"},
      {"POST", "/v1/resolve",
       R"({"fabric":"prod","secrets":[)" + ref + R"(,{"provider":"env","key":["E2E_DB_PASSWORD"]}]})",
       "/secrets/1/key: expected a string, got an array"},
      {"POST", "/v1/resolve", R"(["prod"])", ": expected an object, got an array"},
      {"POST", "/v1/resolve", R"(12345)", ": expected an object, got an integer"},
      {"PUT", "/v1/fabrics/prod/secrets/vault/secret/app/x", R"({"value":5})",
       R"(/value: expected "value": a string)"},
      {"PUT", "/v1/fabrics/prod/secrets/vault/secret/app/x", R"({"value":null})",
       R"(/value: expected "value": a string)"},
      {"PUT", "/v1/fabrics/prod/secrets/vault/secret/app/x", R"({"value":"x","encoding":7})",
       "/encoding: expected a string, got an integer"},
  };
  const std::size_t recorded = f_.AuditEntries().size();
  const int vault_calls = VaultSecretCalls(f_.vault());
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.body);
    const auto r = f_.Call(std::string(c.method) == "PUT" ? "admin" : "etl", c.method, c.target, c.body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_argument");
    EXPECT_EQ(ErrorMessage(r), c.message);
  }
  EXPECT_EQ(f_.AuditEntries().size(), recorded);
  EXPECT_EQ(VaultSecretCalls(f_.vault()), vault_calls);
}

}  // namespace
}  // namespace keyward::e2e
