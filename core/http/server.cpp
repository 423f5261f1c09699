// The only file of the endpoint that includes Beast (compiled once: it is slow to compile).
#include "core/http/server.h"
#include "core/http/wire.h"

#include "core/secret_value.h"
#include "core/secure_string.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

namespace keyward::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

std::string_view HttpRequest::Header(std::string_view name) const { return FindHeader(name).value_or(""); }

std::optional<std::string_view> HttpRequest::FindHeader(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

namespace {

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return wire::LowerAscii(x) == wire::LowerAscii(y); });
}

}  // namespace

namespace wire {

bool IsHeaderName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return std::isalnum(c) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
  });
}
bool IsHeaderValue(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

void SerializeResponse(const HttpResponse& r, unsigned version, bool keep, bool head, std::string& out) {
  const int code = r.status >= 200 && r.status <= 599 ? r.status : 500;
  const bool has_length = code != 204 && code != 304;
  const bool has_body = has_length && !head;
  const beast::string_view reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(code)));
  const std::string status = std::to_string(code);
  const std::string length = std::to_string(r.body.size());
  const auto kept = [&](std::size_t i) {
    const std::string& name = r.headers[i].first;
    if (!IsHeaderName(name) || !IsHeaderValue(r.headers[i].second)) return false;
    for (std::string_view server_owned : {"content-length", "transfer-encoding", "connection"}) {
      if (EqualsIgnoringCase(name, server_owned)) return false;
    }
    if (r.sensitive && EqualsIgnoringCase(name, "cache-control")) return false;
    for (std::size_t j = i + 1; j < r.headers.size(); ++j) {
      if (EqualsIgnoringCase(name, r.headers[j].first)) return false;
    }
    return true;
  };
  std::size_t size = 96 + status.size() + reason.size() + length.size() + r.body.size();
  for (const auto& [k, v] : r.headers) size += k.size() + v.size() + 4;
  out.clear();
  out.reserve(size);
  out += "HTTP/";
  out += static_cast<char>('0' + version / 10 % 10);
  out += '.';
  out += static_cast<char>('0' + version % 10);
  out += ' ';
  out += status;
  out += ' ';
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (std::size_t i = 0; i < r.headers.size(); ++i) {
    if (!kept(i)) continue;
    out += r.headers[i].first;
    out += ": ";
    out += r.headers[i].second;
    out += "\r\n";
  }
  if (r.sensitive) out += "Cache-Control: no-store\r\n";
  // HTTP/1.1 keeps a connection alive unless told otherwise, HTTP/1.0 closes it unless told otherwise.
  if (version >= 11 && !keep) out += "Connection: close\r\n";
  if (version < 11 && keep) out += "Connection: keep-alive\r\n";
  if (has_length) {
    out += "Content-Length: ";
    out += length;
    out += "\r\n";
  }
  out += "\r\n";
  if (has_body) out += r.body;
}

}  // namespace wire

namespace {

// The verified client certificate's subject and subject alternative names.
std::vector<std::string> ClientIdentities(SSL* ssl) {
  std::vector<std::string> out;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return out;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    if (BIO* bio = BIO_new(BIO_s_mem())) {
      if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        char* data = nullptr;
        const long len = BIO_get_mem_data(bio, &data);
        out.emplace_back(data, static_cast<std::size_t>(len));
      }
      BIO_free(bio);
    }
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
      const char* prefix = n->type == GEN_DNS ? "DNS:" : n->type == GEN_URI ? "URI:" : n->type == GEN_EMAIL ? "email:" : nullptr;
      if (prefix == nullptr) continue;
      const ASN1_IA5STRING* s = n->d.ia5;
      out.push_back(prefix + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         static_cast<std::size_t>(ASN1_STRING_length(s))));
    }
    GENERAL_NAMES_free(names);
  }
  X509_free(cert);
  return out;
}

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  virtual void Stop() = 0;
};

}  // namespace

struct HttpServer::Impl {
  ServerOptions options;
  Handler* handler = nullptr;
  // Declared before the contexts, so destroyed after them: destroying a context destroys the handlers
  // still queued in it (an answer that came after Shutdown), and with them sessions, which unregister
  // here and may hold TLS streams made from ssl_ctx.
  std::atomic<std::size_t> connections{0};
  std::mutex mu;
  std::condition_variable drained;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
  std::optional<ssl::context> ssl_ctx;
  // One io_context per I/O thread, run by that thread alone: a connection lives on one of them (round
  // robin), so its handlers never run concurrently and need no strand, and its executor is a plain
  // io_context executor (a strand's, type-erased in Beast's streams, costs heap allocations per operation).
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::size_t next_context = 0;  // the accept handler's
  // Keep the I/O threads running while requests are out at a provider or the audit log: such a session
  // has no I/O pending, and without these run() would return once the acceptor closes.
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  // The contexts exist before the members below that are built on the first of them.
  explicit Impl(int io_threads) : contexts(MakeContexts(io_threads)) {
    for (auto& c : contexts) work.push_back(net::make_work_guard(*c));
  }
  static std::vector<std::unique_ptr<net::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<net::io_context>> out;
    for (int i = 0; i < std::max(1, n); ++i) out.push_back(std::make_unique<net::io_context>(1));
    return out;
  }
  tcp::acceptor acceptor{*contexts.front()};
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  std::atomic<bool> stopping{false};
  bool shut_down = false;  // guarded by mu
  // Out of descriptors (EMFILE/ENFILE): a descriptor held in reserve is given up to accept one pending
  // connection and close it at once, so that the backlog is refused rather than left hanging; when even
  // that fails, accepting pauses (accept_backoff, doubling up to 1 s) instead of spinning on the error.
  // Both touched only by the accept handler (one accept outstanding at a time).
  int reserve_fd = -1;
  net::steady_timer accept_retry{*contexts.front()};
  std::chrono::milliseconds accept_backoff{0};

  ~Impl() {
    if (reserve_fd >= 0) ::close(reserve_fd);
  }
  void Accept();
  void OnAcceptError(const beast::error_code& ec);
  bool ShedOnePendingConnection();
  void Register(const std::shared_ptr<SessionBase>& s) {
    std::lock_guard lk(mu);
    sessions.emplace(s.get(), s);
  }
  void Unregister(SessionBase* s) {
    std::lock_guard lk(mu);
    sessions.erase(s);
    connections.fetch_sub(1);
    drained.notify_all();
  }
};

namespace {

template <bool kTls>
class Session : public SessionBase {
  using Stream = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

 public:
  Session(tcp::socket&& socket, HttpServer::Impl* server, bool overloaded)
      : stream_(MakeStream(std::move(socket), server)),
        server_(server),
        overloaded_(overloaded),
        buffer_(server->options.max_header_bytes + kReadSlack) {
    boost::system::error_code ec;
    const auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) peer_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  ~Session() override {
    // A write that never completed (the server stopped under it) may have left values in the buffer.
    WipeMemory(out_.data(), out_.size());
    server_->Unregister(this);
  }

  void Run() {
    net::dispatch(stream_.get_executor(), [self = Self()] {
      if constexpr (kTls) {
        beast::get_lowest_layer(self->stream_).expires_after(self->server_->options.handshake_timeout);
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return;  // nothing to answer: the client did not speak TLS, or gave up
          self->identities_ = ClientIdentities(self->stream_.native_handle());
          self->Start();
        });
      } else {
        self->Start();
      }
    });
  }

  void Stop() override {
    net::post(stream_.get_executor(), [self = Self()] {
      self->stopping_ = true;
      if (!self->busy_) beast::get_lowest_layer(self->stream_).cancel();  // an idle wait ends now
    });
  }

 private:
  static Stream MakeStream(tcp::socket&& socket, HttpServer::Impl* server) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *server->ssl_ctx);
    } else {
      return Stream(std::move(socket));
    }
  }
  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }

  void Start() {
    if (overloaded_) {
      return Write(server_->handler->Refuse(503, "unavailable", "too many connections; try again later", {}), true);
    }
    WaitForRequest();
  }

  // Waits (idle deadline) for the first byte of the next request, then reads it (read deadline): a
  // client trickling a request is cut off by the read deadline, an idle one by the idle deadline.
  void WaitForRequest() {
    if (stopping_) return Close();
    if (buffer_.size() > 0) return ReadRequest();
    beast::get_lowest_layer(stream_).expires_after(first_ ? server_->options.read_timeout : server_->options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = Self()](beast::error_code ec, std::size_t n) {
      if (ec) return self->Close();
      self->buffer_.commit(n);
      self->ReadRequest();
    });
  }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(server_->options.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_, [self = Self()](beast::error_code ec, std::size_t) {
      self->OnRead(ec);
    });
  }

  // The parser consumed the request, but consume() only moves a pointer: the bytes stay in the
  // buffer's storage. Wipes all of it but the unparsed rest (a pipelined request), which moves to the
  // front.
  void WipeParsed() {
    const auto rest = buffer_.data();
    const auto* from = static_cast<const char*>(rest.data());
    const std::size_t n = rest.size();
    buffer_.clear();
    const auto storage = buffer_.prepare(buffer_.capacity());  // no reallocation: it fits by definition
    auto* begin = static_cast<char*>(storage.data());
    if (n > 0) std::memmove(begin, from, n);
    WipeMemory(begin + n, storage.size() - n);
    buffer_.commit(n);
  }

  void OnRead(beast::error_code ec) {
    WipeParsed();
    Handler& h = *server_->handler;
    if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted) return Close();
    // Refused before the request reaches the API; the client's request id is echoed when its field was
    // read (the parser stores each field once its line is complete, so a value is never truncated).
    const std::string client_id(parser_->request.Header("x-request-id"));
    head_ = parser_->request.method == "HEAD";  // also for a refusal, once the request line was read
    if (ec == bhttp::error::header_limit) {
      return Write(h.Refuse(431, "invalid_argument",
                            "request header larger than " + std::to_string(server_->options.max_header_bytes) + " bytes",
                            client_id),
                   true);
    }
    if (ec == bhttp::error::body_limit) {
      return Write(h.Refuse(413, "invalid_argument",
                            "request body larger than " + std::to_string(server_->options.max_body_bytes) + " bytes",
                            client_id),
                   true);
    }
    // A request not read within the deadline: beast's stream has already closed the socket when the
    // timer fired, so there is no one to answer (a 408 could not be written). Slow clients just lose it.
    if (ec == beast::error::timeout) return Close();
    if (ec) return Write(h.Refuse(400, "invalid_argument", "malformed HTTP request: " + ec.message(), client_id), true);

    keep_alive_ = parser_->keep_alive();
    version_ = parser_->version;
    HttpRequest req = std::move(parser_->request);
    req.peer = peer_;
    req.client_identities = identities_;
    parser_.reset();
    busy_ = true;
    h.Handle(std::move(req), [self = Self()](HttpResponse r) {
      net::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
        const bool close = r.close;
        self->Write(std::move(r), close);
      });
    });
  }

  void Write(HttpResponse r, bool close) {
    // One response per request (Handler's contract): a second would overwrite out_ under the write in
    // flight. Dropped, its values wiped.
    if (writing_) {
      if (r.sensitive) WipeMemory(r.body.data(), r.body.size());
      return;
    }
    writing_ = true;
    busy_ = true;
    const bool keep = keep_alive_ && !close && !stopping_ && !server_->stopping.load();
    const bool sensitive = r.sensitive;
    wire::SerializeResponse(r, version_, keep, head_, out_);
    if (sensitive) WipeMemory(r.body.data(), r.body.size());  // out_ holds the only copy now
    beast::get_lowest_layer(stream_).expires_after(server_->options.write_timeout);
    net::async_write(stream_, net::buffer(out_), [self = Self(), keep, sensitive](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (sensitive) WipeMemory(self->out_.data(), self->out_.size());  // the values are on the wire now
      // The buffer is kept for the next response; one that grew for a large answer is given back.
      if (self->out_.capacity() > kKeptResponseBuffer) std::string().swap(self->out_);
      if (ec) return self->Close();
      if (!keep) return self->CloseAfterAnswer();
      self->busy_ = false;
      self->first_ = false;
      self->WaitForRequest();
    });
  }

  // Closes after an answer that ends the connection (a refusal, Connection: close), when the client may
  // still be sending (the body of a request refused for its header, say). Closing with unread data
  // sends a reset, which can destroy the answer before the client reads it; so, as nginx's lingering
  // close does, the server stops sending, then reads and drops what arrives until the client closes, for
  // at most kLingerTime and kLingerBytes. Not while the server stops: it closes at once.
  void CloseAfterAnswer() {
    if constexpr (kTls) {
      Close();  // TLS: close_notify, and the client's own ends it
    } else {
      // Not for a connection over the limit (it sent nothing yet, and must give its descriptor back at
      // once), nor while the server stops.
      if (overloaded_ || stopping_ || server_->stopping.load()) return Close();
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return Close();
      busy_ = false;  // a Stop() now cancels the read, and the connection closes at once
      beast::get_lowest_layer(stream_).expires_after(kLingerTime);
      Linger(0);
    }
  }
  void Linger(std::size_t dropped) {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(16 * 1024), [self = Self(), dropped](beast::error_code ec, std::size_t n) {
      if (ec || dropped + n >= kLingerBytes) return self->Close();  // EOF: the client has read it all
      self->Linger(dropped + n);
    });
  }
  static constexpr std::chrono::seconds kLingerTime{2};
  static constexpr std::size_t kLingerBytes = 1024 * 1024;

  void Close() {
    busy_ = false;
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = Self()](beast::error_code) { beast::get_lowest_layer(self->stream_).close(); });
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream_.close();
    }
  }

  Stream stream_;
  HttpServer::Impl* server_;
  bool overloaded_;
  // What has been read and not yet parsed. Bounded: a header is parsed once it is whole, a body as it
  // comes, so max_header_bytes and one read's worth always fit; a line that never ends (a chunk
  // extension, a trailer) fills it instead, and the read fails (400) rather than buffer without end.
  static constexpr std::size_t kReadSlack = 64 * 1024;
  // Its storage is wiped when released, and after each request (WipeParsed): a request's bytes (its
  // token, a value written with PUT) outlive their parsing there otherwise.
  beast::basic_flat_buffer<WipingAllocator<char>> buffer_;
  std::optional<wire::RequestParser> parser_;
  // The response being written (one at a time per connection), reused for the next one.
  std::string out_;
  static constexpr std::size_t kKeptResponseBuffer = 16 * 1024;
  std::string peer_;
  std::vector<std::string> identities_;
  bool busy_ = false;
  bool stopping_ = false;
  bool first_ = true;
  bool keep_alive_ = false;
  bool head_ = false;     // the request being answered is a HEAD: no body
  bool writing_ = false;  // a response is being written (from out_)
  unsigned version_ = 11;
};

}  // namespace

void HttpServer::Impl::Accept() {
  net::io_context& home = *contexts[next_context];
  next_context = (next_context + 1) % contexts.size();
  acceptor.async_accept(home, [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || stopping.load()) return;
      return OnAcceptError(ec);
    }
    accept_backoff = std::chrono::milliseconds(0);
    const bool overloaded = connections.fetch_add(1) >= options.max_connections;
    std::shared_ptr<SessionBase> s;
    if (ssl_ctx) {
      auto t = std::make_shared<Session<true>>(std::move(socket), this, overloaded);
      s = t;
      Register(s);
      t->Run();
    } else {
      auto p = std::make_shared<Session<false>>(std::move(socket), this, overloaded);
      s = p;
      Register(s);
      p->Run();
    }
    Accept();
  });
}

void HttpServer::Impl::OnAcceptError(const beast::error_code& ec) {
  const bool no_descriptors = ec.category() == boost::system::system_category() && (ec.value() == EMFILE || ec.value() == ENFILE);
  if (no_descriptors && ShedOnePendingConnection()) return Accept();
  if (ec == net::error::connection_aborted) return Accept();  // that client gave up; the next one may not
  // Out of descriptors with none in reserve, or out of memory: keep serving the connections we have and
  // try again later rather than spin on the failing accept.
  accept_backoff = std::clamp(accept_backoff * 2, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
  accept_retry.expires_after(accept_backoff);
  accept_retry.async_wait([this](const beast::error_code& wait_ec) {
    if (wait_ec || stopping.load()) return;
    if (reserve_fd < 0) reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    Accept();
  });
}

bool HttpServer::Impl::ShedOnePendingConnection() {
  if (reserve_fd < 0) return false;
  ::close(reserve_fd);
  // The acceptor is in non-blocking mode (Asio sets it for async_accept): EAGAIN means nothing pending.
  const int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  const int accept_errno = errno;
  if (fd >= 0) ::close(fd);
  reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd >= 0 || accept_errno == EAGAIN || accept_errno == EWOULDBLOCK;
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(std::chrono::milliseconds(0)); }

std::uint16_t HttpServer::port() const { return impl_->port; }
std::size_t HttpServer::connections() const { return impl_->connections.load(); }
std::size_t HttpServer::max_connections() const { return impl_->options.max_connections; }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& options, Handler* handler) {
  auto impl = std::make_unique<Impl>(options.io_threads);
  impl->options = options;
  impl->handler = handler;
  // Every connection is a descriptor: take the hard open-file limit (service managers often leave the
  // soft one at 1024), and keep max_connections within it so that a connection over the limit gets its
  // 503 rather than an accept() failing with EMFILE.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur < files.rlim_max) {
      const rlim_t wanted = files.rlim_cur;
      files.rlim_cur = files.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &files) != 0) files.rlim_cur = wanted;
    }
    if (files.rlim_cur != RLIM_INFINITY) {
      const auto usable = static_cast<std::size_t>(files.rlim_cur);
      const std::size_t fit = usable > 2 * kReservedDescriptors ? usable - kReservedDescriptors : usable / 2;
      impl->options.max_connections = std::min(impl->options.max_connections, std::max<std::size_t>(fit, 1));
    }
  }
  impl->reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const bool tls = !options.certificate.empty() || !options.private_key.empty();
  if (tls) {
    if (options.certificate.empty() || options.private_key.empty()) {
      return Status::InvalidArgument("TLS needs both a certificate and a private key");
    }
    try {
      impl->ssl_ctx.emplace(ssl::context::tls_server);
      impl->ssl_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                                 ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
      SSL_CTX_set_min_proto_version(impl->ssl_ctx->native_handle(), TLS1_2_VERSION);
      // Never prompt for a pass phrase (OpenSSL's default on a terminal): an encrypted key just fails.
      SSL_CTX_set_default_passwd_cb(impl->ssl_ctx->native_handle(), [](char*, int, int, void*) { return -1; });
      impl->ssl_ctx->use_certificate_chain_file(options.certificate);
      impl->ssl_ctx->use_private_key_file(options.private_key, ssl::context::pem);
      if (!options.client_ca.empty()) {
        impl->ssl_ctx->load_verify_file(options.client_ca);
        SSL_CTX_set_client_CA_list(impl->ssl_ctx->native_handle(), SSL_load_client_CA_file(options.client_ca.c_str()));
        // Ask for a certificate, verify it when given; a client without one may still use a token.
        impl->ssl_ctx->set_verify_mode(ssl::verify_peer);
        // No session resumption: a connection's identity always comes from a certificate verified in
        // its own handshake (not one cached from an earlier connection, under a CA file since changed).
        // A client offering an earlier session gets a full handshake. (OpenSSL aborts a resumption
        // when the server verifies peers without a session id context: set one all the same.)
        SSL_CTX* native = impl->ssl_ctx->native_handle();
        SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(native, 0);
        static constexpr unsigned char kSessionContext[] = "keyward-server";
        SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
      }
    } catch (const boost::system::system_error& e) {
      return Status::InvalidArgument("TLS setup failed: " + std::string(e.what()) + " (certificate " + options.certificate +
                                     ", key " + options.private_key + ")");
    }
  }
  beast::error_code ec;
  const auto address = net::ip::make_address(options.address, ec);
  if (ec) return Status::InvalidArgument("listen address '" + options.address + "' is not an IP address");
  const tcp::endpoint endpoint(address, options.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + options.address + ":" + std::to_string(options.port) + ": " + ec.message());
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  for (auto& context : impl->contexts) {
    impl->threads.emplace_back([ioc = context.get()] { ioc->run(); });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Shutdown(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  {
    std::lock_guard lk(s.mu);
    if (s.shut_down) return;
    s.shut_down = true;
  }
  s.stopping = true;
  net::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
    s.accept_retry.cancel();
  });
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard lk(s.mu);
    for (auto& [raw, weak] : s.sessions) {
      if (auto p = weak.lock()) live.push_back(std::move(p));
    }
  }
  for (auto& p : live) p->Stop();
  live.clear();
  {
    std::unique_lock lk(s.mu);
    s.drained.wait_for(lk, grace, [&] { return s.connections.load() == 0; });
  }
  s.work.clear();
  for (auto& context : s.contexts) context->stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

}  // namespace keyward::http
