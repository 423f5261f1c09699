#include "audit/note.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/base64.h"
#include "core/file.h"
#include "core/sha256.h"
#include "core/utf8.h"

namespace keyward::audit {
namespace {

constexpr std::uint8_t kEd25519Type = 0x01;
constexpr std::string_view kEmDash = "\xE2\x80\x94";  // U+2014
constexpr std::string_view kKeyFileHeader = "keyward audit signing key\n";
constexpr std::string_view kKeyFileName = "name: ";
constexpr std::size_t kMaxNoteBytes = 64 * 1024;
constexpr std::size_t kMaxSignatures = 100;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

std::string_view AsChars(std::span<const std::uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

Result<PublicKey> RawPublicKey(EVP_PKEY* pkey) {
  PublicKey pub{};
  std::size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey, pub.data(), &len) != 1 || len != pub.size()) {
    return Status::Internal("cannot read the Ed25519 public key from OpenSSL");
  }
  return pub;
}

VerifierKey MakeVerifier(std::string name, const PublicKey& pub) {
  VerifierKey v;
  v.id = KeyId(name, pub);
  v.name = std::move(name);
  v.key = pub;
  return v;
}

}  // namespace

struct SigningKey::Impl {
  PkeyPtr pkey;
};

Status ValidateKeyName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("key name must not be empty");
  if (!IsValidUtf8(name) || HasControlCharacter(name)) {
    return Status::InvalidArgument("key name must be UTF-8 without control characters");
  }
  // Unicode spaces: ASCII space, NBSP, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
  for (const std::string_view space : {" ", "\xC2\xA0", "\xE1\x9A\x80", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF",
                                       "\xE2\x81\x9F", "\xE3\x80\x80"}) {
    if (name.find(space) != std::string_view::npos) return Status::InvalidArgument("key name must not contain spaces");
  }
  for (std::size_t i = 0; i + 2 < name.size(); ++i) {
    if (name[i] == '\xE2' && name[i + 1] == '\x80' && static_cast<unsigned char>(name[i + 2]) >= 0x80 &&
        static_cast<unsigned char>(name[i + 2]) <= 0x8A) {
      return Status::InvalidArgument("key name must not contain spaces");
    }
  }
  if (name.find('+') != std::string_view::npos) return Status::InvalidArgument("key name must not contain '+'");
  return Status();
}

std::uint32_t KeyId(std::string_view name, const PublicKey& key) {
  const char type = static_cast<char>(kEd25519Type);
  const std::string_view parts[] = {name, "\n", std::string_view(&type, 1), AsChars(key)};
  const Digest d = Sha256(std::span<const std::string_view>(parts));
  return (std::uint32_t{d[0]} << 24) | (std::uint32_t{d[1]} << 16) | (std::uint32_t{d[2]} << 8) | d[3];
}

std::string VerifierKey::ToString() const {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", id);
  std::vector<std::uint8_t> material;
  material.push_back(kEd25519Type);
  material.insert(material.end(), key.begin(), key.end());
  return name + "+" + hex + "+" + Base64Encode(material);
}

Result<VerifierKey> ParseVerifierKey(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const std::size_t p1 = text.find('+');
  const std::size_t p2 = p1 == std::string_view::npos ? p1 : text.find('+', p1 + 1);
  if (p2 == std::string_view::npos) {
    return Status::InvalidArgument("not a verifier key: expected <name>+<key id>+<base64 key>");
  }
  const std::string_view name = text.substr(0, p1), hash = text.substr(p1 + 1, p2 - p1 - 1);
  KEYWARD_RETURN_IF_ERROR(ValidateKeyName(name).WithContext("verifier key"));
  if (hash.size() != 8 || hash.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return Status::InvalidArgument("verifier key: the key id must be 8 lower-case hex digits");
  }
  KEYWARD_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> material, Base64Decode(text.substr(p2 + 1)));
  if (material.size() != 33 || material[0] != kEd25519Type) {
    return Status::InvalidArgument("verifier key: only Ed25519 keys (type 0x01, 32 bytes) are supported");
  }
  PublicKey pub{};
  std::memcpy(pub.data(), material.data() + 1, pub.size());
  VerifierKey v = MakeVerifier(std::string(name), pub);
  char expected[9];
  std::snprintf(expected, sizeof expected, "%08x", v.id);
  if (hash != expected) return Status::InvalidArgument("verifier key: the key id does not match the name and key");
  return v;
}

// --- SigningKey ---------------------------------------------------------------------------------

SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::Adopt(std::string name, std::unique_ptr<Impl> impl) {
  KEYWARD_ASSIGN_OR_RETURN(const PublicKey pub, RawPublicKey(impl->pkey.get()));
  SigningKey k;
  k.impl_ = std::move(impl);
  k.verifier_ = MakeVerifier(std::move(name), pub);
  return k;
}

Result<SigningKey> SigningKey::Generate(std::string name) {
  KEYWARD_RETURN_IF_ERROR(ValidateKeyName(name));
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!pkey) return Status::Internal("OpenSSL could not generate an Ed25519 key");
  return Adopt(std::move(name), std::make_unique<Impl>(Impl{std::move(pkey)}));
}

Result<SigningKey> SigningKey::FromSeed(std::string name, std::span<const std::uint8_t> seed) {
  KEYWARD_RETURN_IF_ERROR(ValidateKeyName(name));
  if (seed.size() != 32) return Status::InvalidArgument("an Ed25519 seed is 32 bytes");
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) return Status::InvalidArgument("OpenSSL rejected the Ed25519 seed");
  return Adopt(std::move(name), std::make_unique<Impl>(Impl{std::move(pkey)}));
}

Result<SigningKey> SigningKey::Load(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound("signing key " + path + " does not exist");
    return Status::PermissionDenied("cannot stat signing key " + path + ": " + std::strerror(err));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::FailedPrecondition("signing key " + path + " may be read or written by its group or others (mode " +
                                      mode + "); refusing to use it. Run: chmod 600 " + path);
  }
  KEYWARD_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 64 * 1024));
  struct Wiper {
    std::string* s;
    ~Wiper() { OPENSSL_cleanse(s->data(), s->size()); }
  } wipe{&text};
  if (text.rfind(kKeyFileHeader, 0) != 0) {
    return Status::InvalidArgument(path + " is not a keyward signing key (it does not start with \"" +
                                   std::string(kKeyFileHeader.substr(0, kKeyFileHeader.size() - 1)) + "\")");
  }
  const std::size_t name_at = kKeyFileHeader.size();
  if (text.compare(name_at, kKeyFileName.size(), kKeyFileName) != 0) {
    return Status::InvalidArgument(path + ": the second line must be \"name: <key name>\"");
  }
  const std::size_t eol = text.find('\n', name_at);
  if (eol == std::string::npos) return Status::InvalidArgument(path + ": truncated key file");
  std::string name = text.substr(name_at + kKeyFileName.size(), eol - name_at - kKeyFileName.size());
  KEYWARD_RETURN_IF_ERROR(ValidateKeyName(name).WithContext(path));
  const std::string_view pem(text.data() + eol + 1, text.size() - eol - 1);
  if (pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
      pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
    return Status::InvalidArgument(path + ": the private key is encrypted; keyward reads it unencrypted (keep the file "
                                          "mode 0600 instead)");
  }
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // No pass phrase callback: OpenSSL's default would prompt on a terminal, and the server must never wait.
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, [](char*, int, int, void*) { return -1; }, nullptr));
  if (!pkey) return Status::InvalidArgument(path + ": no PEM private key could be read");
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) return Status::InvalidArgument(path + ": the key is not Ed25519");
  return Adopt(std::move(name), std::make_unique<Impl>(Impl{std::move(pkey)}));
}

Status SigningKey::Save(const std::string& key_path) const {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Status::Internal("OpenSSL could not encode the private key");
  }
  char* pem = nullptr;
  const long pem_len = BIO_get_mem_data(bio.get(), &pem);
  std::string content(kKeyFileHeader);
  content += kKeyFileName;
  content += name();
  content += '\n';
  content.append(pem, static_cast<std::size_t>(pem_len));
  struct Wiper {
    std::string* s;
    ~Wiper() { OPENSSL_cleanse(s->data(), s->size()); }
  } wipe{&content};

  const int fd = ::open(key_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) return Status::AlreadyExists(key_path + " exists; keyward never overwrites a key");
    return Status::PermissionDenied("cannot create " + key_path + ": " + std::strerror(err));
  }
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t w = ::write(fd, content.data() + done, content.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(key_path.c_str());
      return Status::Unavailable("cannot write " + key_path + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(w);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return Status::Unavailable("cannot sync " + key_path);
  return Status();
}

std::array<std::uint8_t, 64> SigningKey::Sign(std::string_view message) const {
  std::array<std::uint8_t, 64> sig{};
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  std::size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      len != sig.size()) {
    std::fprintf(stderr, "keyward: fatal: Ed25519 signing failed inside OpenSSL\n");
    std::abort();
  }
  return sig;
}

bool VerifySignature(const PublicKey& key, std::string_view message, std::span<const std::uint8_t> signature) {
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  if (!pkey) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

// --- Notes -------------------------------------------------------------------------------------

Result<std::string> SignNote(std::string_view text, const SigningKey& key) {
  if (text.empty() || text.back() != '\n') return Status::InvalidArgument("note text must end with a newline");
  if (!IsValidUtf8(text)) return Status::InvalidArgument("note text must be UTF-8");
  for (const char c : text) {
    if (c != '\n' && static_cast<unsigned char>(c) < 0x20) {
      return Status::InvalidArgument("note text must not contain control characters");
    }
  }
  const auto sig = key.Sign(text);
  SignedNote note;
  note.text = std::string(text);
  note.signatures.push_back(
      NoteSignature{key.name(), key.verifier().id, std::string(AsChars(std::span<const std::uint8_t>(sig)))});
  return FormatNote(note);
}

std::string FormatNote(const SignedNote& note) {
  std::string out = note.text;
  out += '\n';
  for (const NoteSignature& s : note.signatures) {
    std::vector<std::uint8_t> blob = {static_cast<std::uint8_t>(s.key_id >> 24), static_cast<std::uint8_t>(s.key_id >> 16),
                                      static_cast<std::uint8_t>(s.key_id >> 8), static_cast<std::uint8_t>(s.key_id)};
    blob.insert(blob.end(), s.signature.begin(), s.signature.end());
    out += kEmDash;
    out += ' ';
    out += s.name;
    out += ' ';
    out += Base64Encode(blob);
    out += '\n';
  }
  return out;
}

Result<SignedNote> ParseNote(std::string_view note) {
  if (note.size() > kMaxNoteBytes) return Status::InvalidArgument("note is larger than 64 KiB");
  if (!IsValidUtf8(note)) return Status::InvalidArgument("note is not valid UTF-8");
  for (const char c : note) {
    if (c != '\n' && static_cast<unsigned char>(c) < 0x20) {
      return Status::InvalidArgument("note contains a control character");
    }
  }
  if (note.empty() || note.back() != '\n') return Status::InvalidArgument("note does not end with a newline");
  // The text is separated from the signatures by the last empty line.
  const std::size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) return Status::InvalidArgument("note has no blank line before its signatures");
  SignedNote out;
  out.text = std::string(note.substr(0, split + 1));
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty()) return Status::InvalidArgument("note has no signatures");
  while (!sigs.empty()) {
    const std::size_t eol = sigs.find('\n');
    const std::string_view line = sigs.substr(0, eol);
    sigs.remove_prefix(eol + 1);
    if (line.rfind(kEmDash, 0) != 0 || line.size() < kEmDash.size() + 1 || line[kEmDash.size()] != ' ') {
      return Status::InvalidArgument("note signature line does not start with \"— \"");
    }
    const std::string_view rest = line.substr(kEmDash.size() + 1);
    const std::size_t space = rest.find(' ');
    if (space == std::string_view::npos) return Status::InvalidArgument("note signature line has no signature");
    NoteSignature s;
    s.name = std::string(rest.substr(0, space));
    KEYWARD_RETURN_IF_ERROR(ValidateKeyName(s.name).WithContext("note signature"));
    KEYWARD_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> blob, Base64Decode(rest.substr(space + 1)));
    if (blob.size() < 5) return Status::InvalidArgument("note signature is too short");
    s.key_id = (std::uint32_t{blob[0]} << 24) | (std::uint32_t{blob[1]} << 16) | (std::uint32_t{blob[2]} << 8) | blob[3];
    s.signature = std::string(AsChars(std::span<const std::uint8_t>(blob).subspan(4)));
    out.signatures.push_back(std::move(s));
    if (out.signatures.size() > kMaxSignatures) return Status::InvalidArgument("note has too many signatures");
  }
  return out;
}

Result<std::vector<std::string>> VerifyNote(const SignedNote& note, std::span<const VerifierKey> trusted) {
  std::vector<std::string> verified;
  for (const NoteSignature& s : note.signatures) {
    for (const VerifierKey& k : trusted) {
      if (k.name != s.name || k.id != s.key_id) continue;  // unknown keys are ignored
      const auto* sig = reinterpret_cast<const std::uint8_t*>(s.signature.data());
      if (!VerifySignature(k.key, note.text, std::span<const std::uint8_t>(sig, s.signature.size()))) {
        return Status::DataLoss("the signature by trusted key " + k.name + " does not verify");
      }
      verified.push_back(k.name);
    }
  }
  if (verified.empty()) return Status::DataLoss("no trusted key signed the note");
  return verified;
}

// --- Base64 ------------------------------------------------------------------------------------

std::string Base64Encode(std::span<const std::uint8_t> b) {
  std::string out;
  Base64Append(AsChars(b), &out);
  return out;
}

Result<std::vector<std::uint8_t>> Base64Decode(std::string_view t) {
  std::string bytes;
  if (!Base64DecodeAppend(t, &bytes)) return Status::InvalidArgument("invalid or non-canonical base64");
  return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
}

}  // namespace keyward::audit
