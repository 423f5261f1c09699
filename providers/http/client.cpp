// The HTTP client: one Exchange per request, written in the style of Beast's async-ssl client example
// (boost-1.74), plus a per-origin pool and the retry loop. Everything below runs on the IoRuntime's
// single thread, so ClientCore's pool needs no lock.
#include "providers/http/client.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <list>
#include <random>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace keyward::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

using Body = bhttp::basic_string_body<char, std::char_traits<char>, WipingAllocator<char>>;
using Fields = bhttp::basic_fields<WipingAllocator<char>>;
using BeastRequest = bhttp::request<Body, Fields>;
using Parser = bhttp::response_parser<Body, WipingAllocator<char>>;
using ReadBuffer = beast::basic_flat_buffer<WipingAllocator<char>>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// SSL_set_tlsext_host_name is a macro with a C-style cast.
bool SetSniHostName(SSL* ssl, const std::string& host) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
  return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;
#pragma GCC diagnostic pop
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool DefaultIdempotent(Method m) { return m != Method::kPost; }

// One keep-alive connection: a plain or a TLS stream, and the read buffer that belongs to it (bytes a
// server sent past one response belong to the next).
class Connection {
 public:
  Connection(net::io_context& ioc, ssl::context* tls_ctx) {
    if (tls_ctx != nullptr) {
      tls_.emplace(ioc, *tls_ctx);
    } else {
      plain_.emplace(ioc);
    }
  }

  beast::tcp_stream& tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  TlsStream* tls() { return tls_ ? &*tls_ : nullptr; }
  ReadBuffer& buffer() { return buffer_; }

  template <typename F>
  void Visit(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  // A pooled connection is worth reusing when nothing is waiting to be read on it: a server that
  // closed it has sent FIN (recv returns 0) or a TLS alert (bytes to read).
  bool LooksReusable() {
    if (buffer_.size() != 0 || !tcp().socket().is_open()) return false;
    char c;
    const ssize_t n = ::recv(tcp().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && errno == EAGAIN;  // EWOULDBLOCK is EAGAIN on Linux
  }

  void Close() {
    beast::error_code ec;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp().close();
  }

  Clock::time_point idle_since;

 private:
  std::optional<beast::tcp_stream> plain_;
  std::optional<TlsStream> tls_;
  ReadBuffer buffer_;
};

class Exchange;

}  // namespace

// Shared by the Client and every Exchange in flight. Touched only on the runtime's thread, apart from
// the atomic counters.
class ClientCore : public std::enable_shared_from_this<ClientCore> {
 public:
  ClientCore(net::io_context& ioc, Origin origin, ClientOptions options)
      : ioc_(ioc), origin_(std::move(origin)), options_(std::move(options)), tls_ctx_(ssl::context::tls_client) {
    rng_.seed(options_.seed != 0 ? options_.seed : std::random_device()());
  }

  Status Init() {
    if (!origin_.tls) return Status();
    SSL_CTX* ctx = tls_ctx_.native_handle();
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
      return Status::InvalidArgument("cannot require TLS 1.2 or newer");
    }
    tls_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    tls_ctx_.set_verify_mode(ssl::verify_peer);
    beast::error_code ec;
    if (!options_.ca_file.empty()) {
      tls_ctx_.load_verify_file(options_.ca_file, ec);
      if (ec) {
        return Status::InvalidArgument("cannot load CA file '" + options_.ca_file + "': " + ec.message());
      }
    } else {
      tls_ctx_.set_default_verify_paths(ec);
      if (ec) return Status::InvalidArgument("cannot load the system's trusted roots: " + ec.message());
    }
    return Status();
  }

  // Pool. A slot is one connection, open or being opened; at most max_connections exist.
  // Returns a pooled connection, or nullptr with `*may_open` telling whether a new one may be opened.
  std::unique_ptr<Connection> TakeIdle(bool* may_open) {
    const auto now = Clock::now();
    while (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      if (now - c->idle_since < options_.idle_timeout && c->LooksReusable()) {
        ++in_use_;
        return c;
      }
      c->Close();
    }
    *may_open = in_use_ < options_.max_connections;
    if (*may_open) ++in_use_;
    return nullptr;
  }

  // Gives a connection back (nullptr: it was closed). Hands the slot to the first waiter, if any.
  void Release(std::unique_ptr<Connection> c, bool reusable);
  void AddWaiter(std::weak_ptr<Exchange> w) { waiters_.push_back(std::move(w)); }
  std::list<std::weak_ptr<Exchange>>::iterator AddActive(std::weak_ptr<Exchange> e) {
    return active_.insert(active_.end(), std::move(e));
  }
  void RemoveActive(std::list<std::weak_ptr<Exchange>>::iterator it) { active_.erase(it); }
  void Shutdown();

  net::io_context& ioc() { return ioc_; }
  const Origin& origin() const { return origin_; }
  const ClientOptions& options() const { return options_; }
  ssl::context* tls_ctx() { return origin_.tls ? &tls_ctx_ : nullptr; }
  std::mt19937_64& rng() { return rng_; }
  bool shut_down() const { return shut_down_; }

  std::atomic<std::uint64_t> connections_opened{0};
  std::atomic<std::uint64_t> connections_reused{0};
  std::atomic<std::uint64_t> requests_sent{0};

 private:
  net::io_context& ioc_;
  const Origin origin_;
  const ClientOptions options_;
  ssl::context tls_ctx_;
  std::mt19937_64 rng_;
  std::deque<std::unique_ptr<Connection>> idle_;  // most recently used at the back
  std::size_t in_use_ = 0;
  std::deque<std::weak_ptr<Exchange>> waiters_;
  std::list<std::weak_ptr<Exchange>> active_;
  bool shut_down_ = false;
};

namespace {

// One request, from the first attempt to the last.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<ClientCore> core, BeastRequest req, Deadline deadline, bool idempotent,
           bool retry_on_status, Client::Done done)
      : core_(std::move(core)),
        req_(std::move(req)),
        deadline_(deadline),
        idempotent_(idempotent),
        retry_on_status_(retry_on_status),
        done_(std::move(done)),
        timer_(core_->ioc()),
        resolver_(core_->ioc()) {}

  ~Exchange() { WipeMemory(req_.body().data(), req_.body().capacity()); }

  void Start() {
    active_it_ = core_->AddActive(weak_from_this());
    registered_ = true;
    if (core_->shut_down()) return Finish(ShutDownStatus());
    attempt_ = 1;
    Acquire();
  }

  // A slot came free: `c` is a pooled connection, or nullptr to open a new one.
  void Granted(std::unique_ptr<Connection> c) {
    if (!waiting_for_slot_ || finished_) {
      const bool reusable = c != nullptr;
      core_->Release(std::move(c), reusable);
      return;
    }
    waiting_for_slot_ = false;
    timer_.cancel();
    Use(std::move(c));
  }

  void Abort() {
    aborted_ = true;
    timer_.cancel();
    resolver_.cancel();
    if (conn_) conn_->Close();
    if (waiting_for_slot_) Finish(ShutDownStatus());
  }

 private:
  Status ShutDownStatus() const { return Status::Unavailable(Where() + ": the HTTP client was shut down"); }
  std::string Where() const { return core_->origin().ToString(); }

  void Acquire() {
    bool may_open = false;
    std::unique_ptr<Connection> c = core_->TakeIdle(&may_open);
    if (c != nullptr || may_open) return Use(std::move(c));
    // Every connection is busy: wait for one, until the deadline.
    waiting_for_slot_ = true;
    core_->AddWaiter(weak_from_this());
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](beast::error_code) {
      if (!self->waiting_for_slot_ || self->finished_) return;
      self->waiting_for_slot_ = false;
      self->Finish(self->aborted_ ? self->ShutDownStatus()
                                  : Status::DeadlineExceeded(self->Where() + ": no connection came free before the deadline (" +
                                                             std::to_string(self->core_->options().max_connections) +
                                                             " in use)"));
    });
  }

  void Use(std::unique_ptr<Connection> c) {
    if (aborted_) {
      core_->Release(std::move(c), false);
      return Finish(ShutDownStatus());
    }
    if (c != nullptr) {
      conn_ = std::move(c);
      reused_ = true;
      core_->connections_reused.fetch_add(1, std::memory_order_relaxed);
      return Write();
    }
    reused_ = false;
    conn_ = std::make_unique<Connection>(core_->ioc(), core_->tls_ctx());
    connect_deadline_ = std::min(deadline_, Clock::now() + core_->options().connect_timeout);
    Resolve();
  }

  void Resolve() {
    const Origin& o = core_->origin();
    beast::error_code ec;
    const net::ip::address addr = net::ip::make_address(o.host, ec);
    if (!ec) {
      endpoints_.assign(1, tcp::endpoint(addr, static_cast<unsigned short>(std::stoi(o.port))));
      return Connect();
    }
    resolve_timed_out_ = false;
    timer_.expires_at(connect_deadline_);
    timer_.async_wait([self = shared_from_this()](beast::error_code tec) {
      if (!tec) {
        self->resolve_timed_out_ = true;
        self->resolver_.cancel();
      }
    });
    resolver_.async_resolve(o.host, o.port,
                            [self = shared_from_this()](beast::error_code rec, tcp::resolver::results_type results) {
                              self->timer_.cancel();
                              if (self->aborted_) return self->Finish(self->ShutDownStatus());
                              if (self->resolve_timed_out_) rec = beast::error::timeout;
                              if (rec) return self->Failed("cannot resolve the host", rec, /*retryable=*/true);
                              self->endpoints_.assign(results.begin(), results.end());
                              self->Connect();
                            });
  }

  void Connect() {
    conn_->tcp().expires_at(connect_deadline_);
    conn_->tcp().async_connect(endpoints_, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
      if (self->aborted_) return self->Finish(self->ShutDownStatus());
      if (ec) return self->Failed("cannot connect", ec, /*retryable=*/true);
      self->core_->connections_opened.fetch_add(1, std::memory_order_relaxed);
      beast::error_code nd;
      self->conn_->tcp().socket().set_option(tcp::no_delay(true), nd);
      if (self->conn_->tls() != nullptr) return self->Handshake();
      self->Write();
    });
  }

  void Handshake() {
    TlsStream& s = *conn_->tls();
    const std::string& host = core_->origin().host;
    if (!IsIpLiteral(host) && !SetSniHostName(s.native_handle(), host)) {
      return Failed("cannot set the TLS server name", {}, false);
    }
    // Asio's check leaves no reason behind when the name does not match: record one for the message.
    s.set_verify_callback([check = ssl::host_name_verification(host)](bool preverified, ssl::verify_context& ctx) {
      const bool ok = check(preverified, ctx);
      if (!ok && preverified) X509_STORE_CTX_set_error(ctx.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
      return ok;
    });
    conn_->tcp().expires_at(connect_deadline_);
    s.async_handshake(ssl::stream_base::client, [self = shared_from_this()](beast::error_code ec) {
      if (self->aborted_) return self->Finish(self->ShutDownStatus());
      if (ec) {
        std::string what = "TLS handshake failed";
        const long verify = SSL_get_verify_result(self->conn_->tls()->native_handle());
        if (verify != X509_V_OK) {
          what += " (certificate: ";
          what += X509_verify_cert_error_string(verify);
          what += ")";
        }
        // A timeout may be retried; a refused certificate or protocol never gets better.
        return self->Failed(what, ec, ec == beast::error::timeout);
      }
      self->Write();
    });
  }

  void Write() {
    core_->requests_sent.fetch_add(1, std::memory_order_relaxed);
    conn_->tcp().expires_at(deadline_);
    conn_->Visit([this](auto& stream) {
      bhttp::async_write(stream, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (self->aborted_) return self->Finish(self->ShutDownStatus());
        if (ec) return self->Failed("cannot send the request", ec, /*retryable=*/true);
        self->Read();
      });
    });
  }

  void Read() {
    parser_.emplace();
    parser_->body_limit(static_cast<std::uint64_t>(core_->options().max_response_bytes));
    parser_->header_limit(static_cast<std::uint32_t>(core_->options().max_header_bytes));
    conn_->tcp().expires_at(deadline_);
    // The header first: Beast 1.74 does not hold a Content-Length body to body_limit (only chunked and
    // read-to-EOF bodies), and its string body reserves the declared length up front — a server
    // declaring a terabyte would make it throw. So the declared length is checked here, before any
    // body byte is stored.
    conn_->Visit([this](auto& stream) {
      bhttp::async_read_header(stream, conn_->buffer(), *parser_,
                               [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                 if (self->aborted_) return self->Finish(self->ShutDownStatus());
                                 if (ec) return self->ReadFailed(ec);
                                 self->ReadBody();
                               });
    });
  }

  void ReadBody() {
    const auto declared = parser_->content_length();
    if (declared && *declared > core_->options().max_response_bytes) return ReadFailed(bhttp::error::body_limit);
    conn_->Visit([this](auto& stream) {
      bhttp::async_read(stream, conn_->buffer(), *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (self->aborted_) return self->Finish(self->ShutDownStatus());
        if (ec) return self->ReadFailed(ec);
        self->Received();
      });
    });
  }

  void ReadFailed(beast::error_code ec) {
    const auto& opts = core_->options();
    if (ec == bhttp::error::body_limit) {
      return Failed("the response body is larger than the limit of " + std::to_string(opts.max_response_bytes) +
                        " bytes",
                    {}, false);
    }
    if (ec == bhttp::error::header_limit) {
      return Failed("the response header is larger than the limit of " + std::to_string(opts.max_header_bytes) +
                        " bytes",
                    {}, false);
    }
    const bool dropped = ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
                         ec.category() != bhttp::make_error_code(bhttp::error::bad_version).category();
    if (!dropped) return Failed("malformed HTTP response", ec, false);
    Failed(parser_->got_some() ? "the connection was closed in the middle of the response"
                               : "the connection was closed before a response",
           ec, /*retryable=*/true);
  }

  void Received() {
    auto& msg = parser_->get();
    Response r;
    r.status = msg.result_int();
    r.attempts = attempt_;
    for (const auto& f : msg) {
      r.headers.emplace_back(ToLower({f.name_string().data(), f.name_string().size()}),
                             std::string(f.value().data(), f.value().size()));
    }
    r.body = SecureString::Adopt(std::move(msg.body()));
    const bool keep = msg.keep_alive() && core_->options().idle_timeout.count() > 0;
    parser_.reset();
    ReleaseConnection(keep);

    if (retry_on_status_ && idempotent_ && IsRetryableStatus(r.status) && attempt_ < core_->options().retry.max_attempts) {
      Millis wait = Backoff(core_->options().retry, attempt_ + 1, core_->rng());
      if (auto h = r.Header("retry-after")) {
        if (auto ra = ParseRetryAfter(*h, std::chrono::system_clock::now())) wait = std::max(wait, *ra);
      }
      if (Clock::now() + wait < deadline_) return RetryAfter(wait);
    }
    Finish(std::move(r));
  }

  // `ec` failed `what`. Retries connection-level failures of idempotent requests; otherwise finishes.
  void Failed(const std::string& what, beast::error_code ec, bool retryable) {
    const bool timed_out = ec == beast::error::timeout;
    const bool stale = reused_ && !stale_retry_used_ && (!parser_ || !parser_->got_some()) && !timed_out;
    ReleaseConnection(false);
    parser_.reset();
    if (timed_out && Clock::now() >= deadline_) {
      return Finish(Status::DeadlineExceeded(Where() + ": the deadline passed: " + what + " (attempt " +
                                             std::to_string(attempt_) + ")"));
    }
    std::string msg = Where() + ": " + what;
    if (ec) msg += ": " + (timed_out ? std::string("timed out") : ec.message());
    if (retryable && idempotent_) {
      // A pooled connection the server had already closed: not the server's fault, not an attempt.
      if (stale) {
        stale_retry_used_ = true;
        return Acquire();
      }
      if (attempt_ < core_->options().retry.max_attempts) {
        const Millis wait = Backoff(core_->options().retry, attempt_ + 1, core_->rng());
        if (Clock::now() + wait < deadline_) return RetryAfter(wait);
      }
    }
    msg += " (" + std::to_string(attempt_) + (attempt_ == 1 ? " attempt)" : " attempts)");
    Finish(Status::Unavailable(std::move(msg)));
  }

  void RetryAfter(Millis wait) {
    timer_.expires_after(wait);
    timer_.async_wait([self = shared_from_this()](beast::error_code) {
      if (self->aborted_) return self->Finish(self->ShutDownStatus());
      ++self->attempt_;
      self->Acquire();
    });
  }

  void ReleaseConnection(bool reusable) {
    if (!conn_) return;
    if (reusable) {
      // Return the buffer's memory (wiped by its allocator) rather than keep a response in it.
      if (conn_->buffer().size() != 0) {
        reusable = false;
      } else {
        conn_->buffer().shrink_to_fit();
      }
    }
    if (!reusable) conn_->Close();
    core_->Release(reusable ? std::move(conn_) : nullptr, reusable);
    conn_.reset();
  }

  void Finish(Result<Response> result) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    ReleaseConnection(false);
    if (registered_) core_->RemoveActive(active_it_);
    Client::Done done = std::move(done_);
    done(std::move(result));
  }

  std::shared_ptr<ClientCore> core_;
  BeastRequest req_;
  const Deadline deadline_;
  const bool idempotent_;
  const bool retry_on_status_;
  Client::Done done_;
  net::steady_timer timer_;
  tcp::resolver resolver_;
  std::vector<tcp::endpoint> endpoints_;
  std::unique_ptr<Connection> conn_;
  std::optional<Parser> parser_;
  Deadline connect_deadline_;
  std::list<std::weak_ptr<Exchange>>::iterator active_it_;
  int attempt_ = 0;
  bool reused_ = false;
  bool stale_retry_used_ = false;
  bool waiting_for_slot_ = false;
  bool resolve_timed_out_ = false;
  bool aborted_ = false;
  bool finished_ = false;
  bool registered_ = false;
};

BeastRequest ToBeast(const Origin& origin, Request&& r) {
  BeastRequest req;
  req.version(11);
  switch (r.method) {
    case Method::kGet: req.method(bhttp::verb::get); break;
    case Method::kPost: req.method(bhttp::verb::post); break;
    case Method::kPut: req.method(bhttp::verb::put); break;
    case Method::kDelete: req.method(bhttp::verb::delete_); break;
    case Method::kList: req.method_string("LIST"); break;
  }
  req.target(origin.base_path + r.target);
  req.set(bhttp::field::host, origin.HostHeader());
  req.set(bhttp::field::user_agent, "keyward/0.1");
  req.set(bhttp::field::accept, "application/json");
  for (const auto& [name, value] : r.headers) {
    req.set(beast::string_view(name.data(), name.size()), beast::string_view(value.data(), value.size()));
  }
  if (!r.body.empty() || r.method == Method::kPost || r.method == Method::kPut) {
    req.set(bhttp::field::content_type, "application/json");
    req.body().assign(r.body.data(), r.body.size());
  }
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

}  // namespace

void ClientCore::Release(std::unique_ptr<Connection> c, bool reusable) {
  if (c != nullptr && (!reusable || shut_down_)) {
    c->Close();
    c.reset();
  }
  --in_use_;
  while (!waiters_.empty()) {
    std::shared_ptr<Exchange> w = waiters_.front().lock();
    waiters_.pop_front();
    if (w == nullptr) continue;
    ++in_use_;
    net::post(ioc_, [w, c = std::move(c)]() mutable { w->Granted(std::move(c)); });
    return;
  }
  if (c != nullptr) {
    c->idle_since = Clock::now();
    idle_.push_back(std::move(c));
  }
}

void ClientCore::Shutdown() {
  shut_down_ = true;
  for (auto& c : idle_) c->Close();
  idle_.clear();
  // Abort() may finish an exchange, which erases it from active_: walk a copy.
  std::vector<std::shared_ptr<Exchange>> live;
  for (auto& w : active_) {
    if (auto e = w.lock()) live.push_back(std::move(e));
  }
  for (auto& e : live) e->Abort();
}

std::optional<std::string_view> Response::Header(std::string_view name) const {
  const std::string lower = ToLower(name);
  for (const auto& [n, v] : headers) {
    if (n == lower) return std::string_view(v);
  }
  return std::nullopt;
}

Result<std::unique_ptr<Client>> Client::Create(std::shared_ptr<IoRuntime> runtime, Origin origin,
                                               ClientOptions options) {
  if (!origin.tls && !options.allow_plain_http) {
    return Status::InvalidArgument("plain HTTP to " + origin.ToString() +
                                   " is not allowed; use https:// or allow plain HTTP explicitly");
  }
  if (options.max_connections == 0) return Status::InvalidArgument("max_connections must be at least 1");
  if (options.retry.max_attempts < 1) return Status::InvalidArgument("retry max_attempts must be at least 1");
  auto core = std::make_shared<ClientCore>(runtime->context(), origin, std::move(options));
  KEYWARD_RETURN_IF_ERROR(core->Init());
  return std::unique_ptr<Client>(new Client(std::move(runtime), std::move(origin), std::move(core)));
}

Client::Client(std::shared_ptr<IoRuntime> runtime, Origin origin, std::shared_ptr<ClientCore> core)
    : runtime_(std::move(runtime)), origin_(std::move(origin)), core_(std::move(core)) {}

Client::~Client() { Shutdown(); }

void Client::Send(Request request, Deadline deadline, Done done) {
  const bool idempotent = request.idempotent.value_or(DefaultIdempotent(request.method));
  const bool retry_on_status = request.retry_on_status;
  auto ex = std::make_shared<Exchange>(core_, ToBeast(origin_, std::move(request)), deadline, idempotent,
                                       retry_on_status, std::move(done));
  net::post(core_->ioc(), [ex] { ex->Start(); });
}

void Client::Shutdown() {
  net::post(core_->ioc(), [core = core_] { core->Shutdown(); });
}

ClientStats Client::stats() const {
  return ClientStats{core_->connections_opened.load(), core_->connections_reused.load(), core_->requests_sent.load()};
}

}  // namespace keyward::http
