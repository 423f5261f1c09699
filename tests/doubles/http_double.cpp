// The transport half of the test doubles: the HTTP/TLS server (Beast, in the style of the boost-1.74
// server examples) and the test CA (OpenSSL's C API). The only translation unit of the doubles that
// includes Beast or Asio.
#include "tests/doubles/http_double.h"

#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "tests/doubles/test_ca.h"

namespace keyward::doubles {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "http double: %s\n", what.c_str());
  std::abort();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `plus_is_space`: in query strings (application/x-www-form-urlencoded), not in paths.
std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

DoubleRequest ToDoubleRequest(const bhttp::request<bhttp::string_body>& req) {
  DoubleRequest r;
  r.method = std::string(Sv(req.method_string()));
  r.target = std::string(Sv(req.target()));
  const std::size_t q = r.target.find('?');
  r.path = PercentDecode(std::string_view(r.target).substr(0, q), false);
  if (q != std::string::npos) {
    std::string_view query = std::string_view(r.target).substr(q + 1);
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      const std::size_t eq = pair.find('=');
      r.query[PercentDecode(pair.substr(0, eq), true)] =
          eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    }
  }
  for (const auto& f : req) r.headers[ToLower(Sv(f.name_string()))] = std::string(Sv(f.value()));
  r.body = req.body();
  return r;
}

std::string ReasonLine(unsigned status) {
  return "HTTP/1.1 " + std::to_string(status) + " " +
         std::string(Sv(bhttp::obsolete_reason(static_cast<bhttp::status>(status)))) + "\r\n";
}

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Close() = 0;
};

}  // namespace

std::string DoubleRequest::Header(const std::string& lower_case_name) const {
  auto it = headers.find(lower_case_name);
  return it == headers.end() ? std::string() : it->second;
}

struct HttpDouble::Impl {
  Impl(Handler h, DoubleOptions o, std::atomic<int>* acc, std::atomic<int>* req)
      : handler(std::move(h)), options(std::move(o)), accepted(acc), requests(req) {}

  Fault NextFault() {
    std::lock_guard lock(mu);
    if (!faults.empty()) {
      const Fault f = faults.front();
      faults.pop_front();
      return f;
    }
    return persistent;
  }

  DoubleResponse Handle(const DoubleRequest& r) {
    try {
      return handler(r);
    } catch (const std::exception& e) {
      return DoubleResponse{500, {}, std::string(R"({"errors":["double threw: )") + e.what() + "\"]}"};
    }
  }

  void Accept();

  Handler handler;
  DoubleOptions options;
  std::atomic<int>* accepted;
  std::atomic<int>* requests;

  std::mutex mu;
  std::deque<Fault> faults;
  Fault persistent = Fault::kNone;
  std::string last_sni;
  int stalled_count = 0;  // requests stalled so far
  std::condition_variable changed;

  // Destroyed in this order: acceptor, io_context (and the sessions its handlers own), TLS context.
  std::optional<ssl::context> tls_ctx;
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};  // run even when idle
  tcp::acceptor acceptor{ioc};
  std::vector<std::weak_ptr<SessionBase>> sessions;   // runtime thread only
  std::vector<std::shared_ptr<SessionBase>> stalled;  // kept alive, never answered
  std::thread thread;
};

namespace {

template <typename Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(HttpDouble::Impl* impl, Stream stream) : impl_(impl), stream_(std::move(stream)) {}

  void Run() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (ec) return self->Close();
        const char* sni = SSL_get_servername(self->stream_.native_handle(), TLSEXT_NAMETYPE_host_name);
        {
          std::lock_guard lock(self->impl_->mu);
          self->impl_->last_sni = sni == nullptr ? "" : sni;
        }
        self->Read();
      });
    } else {
      Read();
    }
  }

  void Close() override {
    beast::error_code ec;
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(4u << 20);
    beast::get_lowest_layer(stream_).expires_never();
    bhttp::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->Close();
      self->OnRequest();
    });
  }

  void OnRequest() {
    const auto req = parser_->release();
    impl_->requests->fetch_add(1);
    const DoubleRequest dr = ToDoubleRequest(req);
    const Fault fault = impl_->NextFault();
    switch (fault) {
      case Fault::kStall: {
        impl_->stalled.push_back(this->shared_from_this());
        std::lock_guard lock(impl_->mu);
        ++impl_->stalled_count;
        impl_->changed.notify_all();
        return;
      }
      case Fault::kCloseWithoutAnswer:
        return Close();
      case Fault::kGarbage:
        return WriteRawThenClose("this is not an HTTP response\r\n\r\n{{{{");
      case Fault::kDropMidBody: {
        const DoubleResponse r = impl_->Handle(dr);
        std::string raw = ReasonLine(r.status) + "Content-Type: application/json\r\nContent-Length: " +
                          std::to_string(r.body.size()) + "\r\n\r\n" + r.body.substr(0, r.body.size() / 2);
        return WriteRawThenClose(std::move(raw));
      }
      case Fault::kOversizedBody: {
        const std::size_t n = impl_->options.oversize_bytes;
        return WriteRawThenClose("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                 std::to_string(n) + "\r\n\r\n" + std::string(n, 'x'));
      }
      case Fault::kHugeContentLength:
        return WriteRawThenClose("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1099511627776\r\n\r\n{\"a\":");
      case Fault::kOversizedChunked: {
        std::string raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (std::size_t sent = 0; sent < impl_->options.oversize_bytes; sent += 4096) {
          raw += "1000\r\n" + std::string(4096, 'y') + "\r\n";
        }
        return WriteRawThenClose(raw + "0\r\n\r\n");
      }
      case Fault::kNone:
        break;
    }
    const DoubleResponse r = impl_->Handle(dr);
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), 11);
    res->set(bhttp::field::server, "keyward-test-double");
    for (const auto& [name, value] : r.headers) res->set(name, value);
    if (!r.body.empty()) res->set(bhttp::field::content_type, "application/json");
    res->body() = r.body;
    res->keep_alive(req.keep_alive());
    res->prepare_payload();
    bhttp::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec || !res->keep_alive()) return self->Close();
      self->Read();
    });
  }

  void WriteRawThenClose(std::string raw) {
    auto data = std::make_shared<std::string>(std::move(raw));
    net::async_write(stream_, net::buffer(*data), [self = this->shared_from_this(), data](beast::error_code, std::size_t) {
      self->Close();
    });
  }

  HttpDouble::Impl* impl_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
};

}  // namespace

void HttpDouble::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) return;  // closed
    accepted->fetch_add(1);
    socket.set_option(tcp::no_delay(true), ec);  // as Go's net/http (Vault) does: no Nagle delay on small writes
    std::shared_ptr<SessionBase> s;
    if (tls_ctx) {
      auto t = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          this, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls_ctx));
      t->Run();
      s = t;
    } else {
      auto p = std::make_shared<Session<beast::tcp_stream>>(this, beast::tcp_stream(std::move(socket)));
      p->Run();
      s = p;
    }
    sessions.push_back(s);
    Accept();
  });
}

HttpDouble::HttpDouble(Handler handler, DoubleOptions options)
    : impl_(std::make_shared<Impl>(std::move(handler), std::move(options), &accepted_, &requests_)) {
  Impl& im = *impl_;
  if (im.options.tls) {
    im.tls_ctx.emplace(ssl::context::tls_server);
    beast::error_code ec;
    const TlsServerConfig& t = *im.options.tls;
    im.tls_ctx->use_certificate_chain(net::buffer(t.cert_pem), ec);
    if (ec) Die("certificate: " + ec.message());
    im.tls_ctx->use_private_key(net::buffer(t.key_pem), ssl::context::pem, ec);
    if (ec) Die("private key: " + ec.message());
    if (t.only_tls_1_1) {
      SSL_CTX* ctx = im.tls_ctx->native_handle();
      SSL_CTX_set_security_level(ctx, 0);  // OpenSSL 3 allows TLS 1.1 only at level 0
      SSL_CTX_set_min_proto_version(ctx, TLS1_1_VERSION);
      SSL_CTX_set_max_proto_version(ctx, TLS1_1_VERSION);
      if (SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0") != 1) Die("cipher list");
    }
  }
  beast::error_code ec;
  const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
  im.acceptor.open(ep.protocol(), ec);
  if (!ec) im.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) im.acceptor.bind(ep, ec);
  if (!ec) im.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) Die("listen: " + ec.message());
  port_ = im.acceptor.local_endpoint().port();
  im.Accept();
  im.thread = std::thread([&im] { im.ioc.run(); });
}

HttpDouble::~HttpDouble() {
  std::promise<void> closed;
  net::post(impl_->ioc, [this, &closed] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    for (auto& w : impl_->sessions) {
      if (auto s = w.lock()) s->Close();
    }
    impl_->stalled.clear();
    closed.set_value();
  });
  closed.get_future().wait();
  impl_->work.reset();
  impl_->ioc.stop();
  impl_->thread.join();
}

std::string HttpDouble::url(const std::string& host) const {
  return std::string(impl_->tls_ctx ? "https://" : "http://") + host + ":" + std::to_string(port_);
}

bool HttpDouble::WaitForStalled(int count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->stalled_count >= count; });
}

void HttpDouble::SetFault(Fault fault, int count) {
  std::lock_guard lock(impl_->mu);
  impl_->faults.clear();
  impl_->persistent = Fault::kNone;
  if (count < 0) {
    impl_->persistent = fault;
  } else {
    impl_->faults.assign(static_cast<std::size_t>(count), fault);
  }
}

void HttpDouble::StopListening() {
  std::promise<void> closed;
  net::post(impl_->ioc, [this, &closed] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    closed.set_value();
  });
  closed.get_future().wait();
}

std::string HttpDouble::last_sni() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last_sni;
}

// --- TestCa ------------------------------------------------------------------------------------------

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

void Check(bool ok, const char* what) {
  if (!ok) Die(std::string("OpenSSL: ") + what);
}

Pkey NewKey() {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  Check(ctx != nullptr, "EVP_PKEY_CTX_new_from_name");
  EVP_PKEY* key = nullptr;
  Check(EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1 &&
            EVP_PKEY_generate(ctx, &key) == 1,
        "EC key generation");
  EVP_PKEY_CTX_free(ctx);
  return Pkey(key);
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  Check(ext != nullptr, "X509V3_EXT_conf_nid");
  Check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

Cert NewCert(EVP_PKEY* subject_key, const std::string& cn, long serial) {
  Cert cert(X509_new());
  Check(cert != nullptr, "X509_new");
  X509* c = cert.get();
  Check(X509_set_version(c, 2) == 1, "X509_set_version");
  Check(ASN1_INTEGER_set(X509_get_serialNumber(c), serial) == 1, "serial");
  Check(X509_gmtime_adj(X509_getm_notBefore(c), -3600) != nullptr, "notBefore");
  Check(X509_gmtime_adj(X509_getm_notAfter(c), 3600) != nullptr, "notAfter");
  Check(X509_set_pubkey(c, subject_key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(c);
  Check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                   -1, 0) == 1,
        "subject CN");
  return cert;
}

std::string Pem(X509* cert) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  Check(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
  char* data = nullptr;
  const long n = BIO_ctrl(bio.get(), BIO_CTRL_INFO, 0, &data);  // BIO_get_mem_data, without its C cast
  return std::string(data, static_cast<std::size_t>(n));
}

std::string Pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  Check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  const long n = BIO_ctrl(bio.get(), BIO_CTRL_INFO, 0, &data);  // BIO_get_mem_data, without its C cast
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

struct TestCa::Keys {
  Pkey key;
  Cert cert;
  mutable long next_serial = 2;
};

TestCa::TestCa(const std::string& common_name) : keys_(std::make_unique<Keys>()) {
  keys_->key = NewKey();
  keys_->cert = NewCert(keys_->key.get(), common_name, 1);
  X509* c = keys_->cert.get();
  Check(X509_set_issuer_name(c, X509_get_subject_name(c)) == 1, "issuer");
  AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExtension(c, c, NID_subject_key_identifier, "hash");
  Check(X509_sign(c, keys_->key.get(), EVP_sha256()) > 0, "X509_sign (CA)");
  cert_pem_ = Pem(c);
}

TestCa::~TestCa() = default;

TestCertificate TestCa::Issue(const std::vector<std::string>& dns_names,
                              const std::vector<std::string>& ip_addresses) const {
  const std::string cn = dns_names.empty() ? (ip_addresses.empty() ? "server" : ip_addresses[0]) : dns_names[0];
  std::vector<std::string> sans;
  for (const auto& d : dns_names) sans.push_back("DNS:" + d);
  for (const auto& ip : ip_addresses) sans.push_back("IP:" + ip);
  return IssueLeaf(cn, sans, "serverAuth");
}

TestCertificate TestCa::IssueClient(const std::string& common_name, const std::vector<std::string>& sans) const {
  return IssueLeaf(common_name, sans, "clientAuth");
}

TestCertificate TestCa::IssueLeaf(const std::string& common_name, const std::vector<std::string>& sans,
                                  const std::string& extended_key_usage) const {
  Pkey key = NewKey();
  Cert cert = NewCert(key.get(), common_name, keys_->next_serial++);
  X509* c = cert.get();
  Check(X509_set_issuer_name(c, X509_get_subject_name(keys_->cert.get())) == 1, "issuer");
  std::string san;
  for (const auto& n : sans) san += (san.empty() ? "" : ",") + n;
  AddExtension(c, keys_->cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  AddExtension(c, keys_->cert.get(), NID_key_usage, "critical,digitalSignature");
  AddExtension(c, keys_->cert.get(), NID_ext_key_usage, extended_key_usage);
  if (!san.empty()) AddExtension(c, keys_->cert.get(), NID_subject_alt_name, san);
  AddExtension(c, keys_->cert.get(), NID_authority_key_identifier, "keyid:always");
  Check(X509_sign(c, keys_->key.get(), EVP_sha256()) > 0, "X509_sign (leaf)");
  return TestCertificate{Pem(c) + cert_pem_, Pem(key.get())};
}

}  // namespace keyward::doubles
