#include "tools/keyward-server/preflight.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "audit/note.h"
#include "core/file.h"

namespace keyward::server {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

// Refuses to decrypt: the server has no pass phrase to give (and must never prompt for one).
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

// "" when `path` is a file this process can open for reading; otherwise why not (naming the path).
std::string OpenProblem(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return "cannot open " + path + ": " + std::strerror(errno);
  struct stat st {};
  const bool is_dir = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  ::close(fd);
  return is_dir ? path + " is a directory, not a file" : std::string();
}

// The first error OpenSSL queued (usually the cause), for a message; clears the queue.
std::string TakeOpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "OpenSSL gave no reason";
  const char* lib = ERR_lib_error_string(e);
  const char* reason = ERR_reason_error_string(e);
  if (lib != nullptr && reason != nullptr) return std::string("OpenSSL: ") + lib + ": " + reason;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return std::string("OpenSSL: ") + buf;
}

class Checker {
 public:
  explicit Checker(std::vector<Diagnostic>* errors) : errors_(errors) {}

  void Error(const std::string& pointer, const std::string& kind, std::string message) {
    errors_->push_back({Diagnostic::Severity::kError, pointer, kind, std::move(message)});
    ++count_;
  }
  // True when the file opens; reports it at `pointer` otherwise.
  bool Opens(const std::string& pointer, const std::string& path) {
    std::string problem = OpenProblem(path);
    if (problem.empty()) return true;
    Error(pointer, "file", std::move(problem));
    return false;
  }
  std::size_t count() const { return count_; }

 private:
  std::vector<Diagnostic>* errors_;
  std::size_t count_ = 0;
};

// The server's TLS context, built as HttpServer::Start builds it (core/http/server.cpp) from the same
// files, plus the check that the key belongs to the certificate.
void CheckTls(const http::ServerOptions& o, Checker* check) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    check->Error("/tls", "tls", "OpenSSL cannot make a TLS context (" + TakeOpenSslError() + ")");
    return;
  }
  SSL_CTX_set_default_passwd_cb(ctx.get(), NoPassphrase);

  bool have_cert = false;
  if (check->Opens("/tls/certificate", o.certificate)) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.certificate.c_str()) == 1) {
      have_cert = true;
    } else {
      check->Error("/tls/certificate", "tls",
                   o.certificate + " holds no PEM certificate that can be loaded (" + TakeOpenSslError() + ")");
    }
  }

  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  if (check->Opens("/tls/private_key", o.private_key)) {
    if (Status exposed = CheckNotExposed(o.private_key, "the TLS private key"); !exposed.ok()) {
      check->Error("/tls/private_key", "tls", exposed.message());
    }
    std::unique_ptr<BIO, BioFree> bio(BIO_new_file(o.private_key.c_str(), "r"));
    if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
    if (!key) {
      check->Error("/tls/private_key", "tls",
                   o.private_key + " holds no PEM private key that can be loaded without a pass phrase (" +
                       TakeOpenSslError() + ")");
    }
  }

  if (have_cert && key) {
    X509* leaf = SSL_CTX_get0_certificate(ctx.get());
    if (leaf == nullptr || X509_check_private_key(leaf, key.get()) != 1) {
      ERR_clear_error();
      check->Error("/tls/private_key", "tls",
                   "the private key in " + o.private_key + " does not belong to the certificate in " + o.certificate +
                       " (the first certificate of the file)");
    } else if (SSL_CTX_use_PrivateKey_file(ctx.get(), o.private_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
               SSL_CTX_check_private_key(ctx.get()) != 1) {
      check->Error("/tls/private_key", "tls",
                   "the private key in " + o.private_key + " cannot serve the certificate in " + o.certificate + " (" +
                       TakeOpenSslError() + ")");
    }
  }

  if (!o.client_ca.empty() && check->Opens("/tls/client_ca", o.client_ca)) {
    if (SSL_CTX_load_verify_locations(ctx.get(), o.client_ca.c_str(), nullptr) != 1) {
      check->Error("/tls/client_ca", "tls",
                   o.client_ca + " holds no PEM CA certificate that can be loaded (" + TakeOpenSslError() + ")");
    }
  }
  ERR_clear_error();
}

}  // namespace

Status Preflight(const Config& config, std::vector<Diagnostic>* errors) {
  const std::size_t first = errors->size();
  Checker check(errors);
  if (config.tls) CheckTls(config.listen, &check);
  if (auto key = audit::SigningKey::Load(config.audit.signing_key_path); !key.has_value()) {
    check.Error("/audit/signing_key", "signing-key", key.error().message());
  }
  if (check.count() == 0) return Status();
  const Diagnostic& d = (*errors)[first];
  return Status::InvalidArgument(std::to_string(check.count()) + " error(s) in the files " + config.path +
                                 " names; the first: " + d.pointer + ": " + d.message);
}

}  // namespace keyward::server
