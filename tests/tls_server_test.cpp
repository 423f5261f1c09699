// keyward::http::HttpServer over TLS with client certificates: a real listener on a loopback port, a CA
// made up by the test (tests/doubles/test_ca.h), and OpenSSL's client API. Which identities a verified
// client certificate gives the handler, that a certificate from another CA gives none, and that a client
// offering to resume an earlier session is served (OpenSSL aborts such handshakes when the server asks
// for certificates without a session id context).
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/http/server.h"
#include "tests/doubles/test_ca.h"
#include "tests/e2e/e2e_util.h"

namespace keyward::http {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Answers every request with 200 and its client identities, one per line.
class IdentityHandler : public Handler {
 public:
  void Handle(HttpRequest request, Respond respond) override {
    HttpResponse r;
    for (const std::string& id : request.client_identities) r.body += id + "\n";
    {
      std::lock_guard lk(mu_);
      ++requests_;
    }
    respond(std::move(r));
  }
  HttpResponse Refuse(int status, const std::string& code, const std::string& message, std::string_view) override {
    HttpResponse r;
    r.status = status;
    r.close = true;
    r.body = code + ": " + message;
    return r;
  }
  int requests() {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  int requests_ = 0;
};

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using Session = std::unique_ptr<SSL_SESSION, SessionFree>;

// What one TLS connection got: whether the handshake and the exchange worked, whether it resumed a
// session, the response's bytes, and the session to resume next time (if the server offered one).
struct Exchange {
  bool handshake = false;
  bool answered = false;
  bool resumed = false;
  std::string response;
  Session session;
};

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("keyward-tls-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    const doubles::TestCertificate server = ca_.Issue({"localhost"}, {"127.0.0.1"});
    Write("server.pem", server.cert_pem);
    Write("server.key", server.key_pem);
    Write("clients.pem", ca_.cert_pem());
    ServerOptions options;
    options.certificate = (dir_ / "server.pem").string();
    options.private_key = (dir_ / "server.key").string();
    options.client_ca = (dir_ / "clients.pem").string();
    auto started = HttpServer::Start(options, &handler_);
    ASSERT_TRUE(started.has_value()) << started.status().message();
    server_ = std::move(started).value();
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::milliseconds(0));
    std::filesystem::remove_all(dir_);
  }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name, std::ios::binary) << content;
  }

  // One connection: a TLS handshake (at most `max_version`; with `client` as the client certificate
  // when given; offering `resume` when given), then GET / and the response, read until the server closes.
  Exchange Connect(const doubles::TestCertificate* client, SSL_SESSION* resume, int max_version = TLS1_3_VERSION) {
    Exchange out;
    std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ReadCert(ca_.cert_pem()).get());
    if (client != nullptr) {
      EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), ReadCert(client->cert_pem).get()), 1);
      BIO* bio = BIO_new_mem_buf(client->key_pem.data(), static_cast<int>(client->key_pem.size()));
      EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
      BIO_free(bio);
      EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), key), 1);
      EVP_PKEY_free(key);
    }
    auto socket = e2e::RawSocket::Connect(server_->port());
    if (!socket.has_value()) {
      ADD_FAILURE() << "cannot connect";
      return out;
    }
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), socket->fd());
    if (resume != nullptr) SSL_set_session(ssl.get(), resume);
    out.handshake = SSL_connect(ssl.get()) == 1;
    if (!out.handshake) {
      ERR_clear_error();
      return out;
    }
    out.resumed = SSL_session_reused(ssl.get()) == 1;
    const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (SSL_write(ssl.get(), request.data(), static_cast<int>(request.size())) <= 0) {
      ERR_clear_error();
      return out;
    }
    char buf[4096];
    for (;;) {
      const int n = SSL_read(ssl.get(), buf, sizeof buf);
      if (n <= 0) break;
      out.response.append(buf, static_cast<std::size_t>(n));
    }
    ERR_clear_error();
    out.answered = out.response.rfind("HTTP/1.1 200 ", 0) == 0;
    // A clean close (close_notify), as a client does that means to resume: OpenSSL forgets the session
    // of a connection dropped without one.
    SSL_shutdown(ssl.get());
    ERR_clear_error();
    out.session.reset(SSL_get1_session(ssl.get()));
    return out;
  }

  static std::unique_ptr<X509, decltype(&X509_free)> ReadCert(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return {cert, &X509_free};
  }
  // The identities the handler reported: the response body's lines.
  static std::vector<std::string> Identities(const Exchange& e) {
    std::vector<std::string> out;
    const std::size_t body = e.response.find("\r\n\r\n");
    if (body == std::string::npos) return out;
    std::string rest = e.response.substr(body + 4);
    for (std::size_t nl; (nl = rest.find('\n')) != std::string::npos; rest.erase(0, nl + 1)) out.push_back(rest.substr(0, nl));
    return out;
  }

  doubles::TestCa ca_;
  std::filesystem::path dir_;
  IdentityHandler handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(TlsServerTest, AVerifiedClientCertificateGivesItsSubjectAndNames) {
  const auto client = ca_.IssueClient("pipeline-etl", {"DNS:etl.example.com", "URI:spiffe://example.com/etl",
                                                       "email:etl@example.com", "IP:10.0.0.7"});
  const Exchange e = Connect(&client, nullptr);
  ASSERT_TRUE(e.handshake);
  ASSERT_TRUE(e.answered) << e.response;
  // The subject in RFC 2253 form, then the DNS, URI and email names in certificate order; no IP names.
  EXPECT_THAT(Identities(e), ElementsAre("CN=pipeline-etl", "DNS:etl.example.com", "URI:spiffe://example.com/etl",
                                         "email:etl@example.com"));
}

TEST_F(TlsServerTest, AClientWithoutACertificateIsServedWithNoIdentity) {
  const Exchange e = Connect(nullptr, nullptr);
  ASSERT_TRUE(e.handshake);
  ASSERT_TRUE(e.answered) << e.response;
  EXPECT_THAT(Identities(e), IsEmpty());  // it may still authenticate with a token
}

TEST_F(TlsServerTest, ACertificateFromAnotherCaIsRefused) {
  const doubles::TestCa other("another CA");
  const auto stranger = other.IssueClient("pipeline-etl", {"DNS:etl.example.com"});
  const Exchange e = Connect(&stranger, nullptr);
  // TLS 1.3 clients finish before the server has checked their certificate: the refusal then ends the
  // exchange instead of the handshake. Either way no request reaches the handler.
  EXPECT_FALSE(e.answered) << e.response;
  EXPECT_EQ(handler_.requests(), 0);
}

TEST_F(TlsServerTest, AClientOfferingToResumeASessionIsServed) {
  // Clients cache sessions and offer them on their next connection (TLS 1.2 session ids, TLS 1.3
  // tickets). A server that asks for client certificates must not abort those handshakes; it does not
  // resume them either, so that every connection's identity comes from a certificate verified in it.
  const auto client = ca_.IssueClient("pipeline-etl", {});
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version == TLS1_2_VERSION ? "TLS 1.2" : "TLS 1.3");
    for (const doubles::TestCertificate* cert : {&client, static_cast<const doubles::TestCertificate*>(nullptr)}) {
      SCOPED_TRACE(cert != nullptr ? "with a client certificate" : "without one");
      const Exchange first = Connect(cert, nullptr, version);
      ASSERT_TRUE(first.answered) << first.response;
      ASSERT_NE(first.session, nullptr);
      const Exchange second = Connect(cert, first.session.get(), version);
      EXPECT_TRUE(second.handshake);
      EXPECT_TRUE(second.answered) << second.response;
      EXPECT_FALSE(second.resumed);
      EXPECT_EQ(Identities(second), Identities(first));
    }
  }
}

}  // namespace
}  // namespace keyward::http
