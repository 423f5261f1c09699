#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace keyward::testing {

std::string HttpReply::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

struct HttpConnection::Impl {
  int fd = -1;
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  std::chrono::milliseconds timeout{30000};
  std::string buffer;  // received, not yet consumed

  ~Impl() {
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }

  // Waits until the socket is readable (or writable); false on timeout.
  bool Wait(short events) const {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }

  Status Write(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n;
      if (ssl != nullptr) {
        const int r = SSL_write(ssl, bytes.data() + done, static_cast<int>(bytes.size() - done));
        n = r > 0 ? r : -1;
      } else {
        n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      }
      if (n <= 0) return Status::Unavailable("write failed: " + std::string(std::strerror(errno)));
      done += static_cast<std::size_t>(n);
    }
    return Status();
  }

  // Reads more bytes into buffer; 0 at end of stream, -1 on error or timeout.
  ssize_t Fill() {
    char buf[16384];
    if (ssl != nullptr && SSL_pending(ssl) > 0) {
      const int r = SSL_read(ssl, buf, sizeof buf);
      if (r > 0) buffer.append(buf, static_cast<std::size_t>(r));
      return r > 0 ? r : 0;
    }
    if (!Wait(POLLIN)) return -1;
    if (ssl != nullptr) {
      const int r = SSL_read(ssl, buf, sizeof buf);
      if (r > 0) {
        buffer.append(buf, static_cast<std::size_t>(r));
        return r;
      }
      return SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : (SSL_get_error(ssl, r) == SSL_ERROR_SYSCALL ? 0 : -1);
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) buffer.append(buf, static_cast<std::size_t>(n));
    return n < 0 ? -1 : n;
  }
};

HttpConnection::HttpConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpConnection::~HttpConnection() = default;

Result<std::unique_ptr<HttpConnection>> HttpConnection::Connect(std::uint16_t port, const std::optional<TlsClientOptions>& tls,
                                                                std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  impl->timeout = timeout;
  impl->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(impl->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::Unavailable("cannot connect to port " + std::to_string(port) + ": " + std::strerror(errno));
  }
  const int one = 1;
  ::setsockopt(impl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (tls) {
    impl->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(impl->ctx, TLS1_2_VERSION);
    BIO* bio = BIO_new_mem_buf(tls->ca_pem.data(), static_cast<int>(tls->ca_pem.size()));
    X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(impl->ctx), ca);
    X509_free(ca);
    SSL_CTX_set_verify(impl->ctx, SSL_VERIFY_PEER, nullptr);
    if (!tls->cert_pem.empty()) {
      BIO* cb = BIO_new_mem_buf(tls->cert_pem.data(), static_cast<int>(tls->cert_pem.size()));
      X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
      BIO_free(cb);
      BIO* kb = BIO_new_mem_buf(tls->key_pem.data(), static_cast<int>(tls->key_pem.size()));
      EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
      BIO_free(kb);
      SSL_CTX_use_certificate(impl->ctx, cert);
      SSL_CTX_use_PrivateKey(impl->ctx, key);
      X509_free(cert);
      EVP_PKEY_free(key);
    }
    impl->ssl = SSL_new(impl->ctx);
    SSL_set_fd(impl->ssl, impl->fd);
    SSL_set1_host(impl->ssl, tls->server_name.c_str());
    // SSL_set_tlsext_host_name, without its C-style cast.
    SSL_ctrl(impl->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(tls->server_name.c_str()));
    if (SSL_connect(impl->ssl) != 1) {
      char err[256];
      ERR_error_string_n(ERR_get_error(), err, sizeof err);
      return Status::Unavailable(std::string("TLS handshake failed: ") + err);
    }
  }
  return std::unique_ptr<HttpConnection>(new HttpConnection(std::move(impl)));
}

Status HttpConnection::Send(const std::string& bytes) { return impl_->Write(bytes); }

Result<HttpReply> HttpConnection::ReadReply() {
  Impl& c = *impl_;
  std::size_t end;
  while ((end = c.buffer.find("\r\n\r\n")) == std::string::npos) {
    if (c.Fill() <= 0) return Status::Unavailable("the connection closed or timed out before a reply header");
  }
  HttpReply reply;
  const std::string head = c.buffer.substr(0, end);
  c.buffer.erase(0, end + 4);
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12) return Status::Unavailable("malformed status line: " + status_line);
  reply.status = std::stoi(status_line.substr(9, 3));
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t eol = head.find("\r\n", pos);
    if (eol == std::string::npos) eol = head.size();
    const std::string line = head.substr(pos, eol - pos);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      reply.headers[name] = value;
    }
    pos = eol + 2;
  }
  const std::size_t length = reply.headers.count("content-length") ? std::stoul(reply.headers["content-length"]) : 0;
  while (c.buffer.size() < length) {
    if (c.Fill() <= 0) return Status::Unavailable("the connection closed before the whole body");
  }
  reply.body = c.buffer.substr(0, length);
  c.buffer.erase(0, length);
  return reply;
}

Result<HttpReply> HttpConnection::Request(const std::string& method, const std::string& target,
                                          const std::vector<std::pair<std::string, std::string>>& headers,
                                          const std::string& body) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  KEYWARD_RETURN_IF_ERROR(impl_->Write(req));
  return ReadReply();
}

std::pair<std::string, bool> HttpConnection::ReadUntilClosed() {
  for (;;) {
    const ssize_t n = impl_->Fill();
    if (n == 0) return {impl_->buffer, true};
    if (n < 0) return {impl_->buffer, false};
  }
}

Result<HttpReply> Http(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
                       const std::optional<TlsClientOptions>& tls) {
  KEYWARD_ASSIGN_OR_RETURN(auto conn, HttpConnection::Connect(port, tls));
  return conn->Request(method, target, headers, body);
}

}  // namespace keyward::testing
