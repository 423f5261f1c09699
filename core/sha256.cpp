#include "core/sha256.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace keyward {
namespace {

// Fetched once: EVP_sha256() would look the algorithm up again on every digest in OpenSSL 3.
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) {
    std::fprintf(stderr, "keyward: fatal: OpenSSL has no SHA256\n");
    std::abort();
  }
  return md;
}

struct CtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

EVP_MD_CTX* ThreadCtx() {
  thread_local std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx(EVP_MD_CTX_new());
  return ctx.get();
}

[[noreturn]] void DieDigest() {
  std::fprintf(stderr, "keyward: fatal: SHA-256 failed inside OpenSSL\n");
  std::abort();
}

}  // namespace

Digest Sha256(std::span<const std::string_view> parts) {
  EVP_MD_CTX* ctx = ThreadCtx();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, Sha256Md(), nullptr) != 1) DieDigest();
  for (const std::string_view part : parts) {
    if (EVP_DigestUpdate(ctx, part.data(), part.size()) != 1) DieDigest();
  }
  Digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != out.size()) DieDigest();
  return out;
}

Digest Sha256(std::string_view data) {
  const std::string_view parts[] = {data};
  return Sha256(std::span<const std::string_view>(parts));
}

std::string ToHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0F];
  }
  return out;
}

bool ConstantTimeEquals(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace keyward
