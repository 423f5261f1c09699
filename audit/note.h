// Ed25519 keys and C2SP signed notes (c2sp.org/signed-note), interoperable with Go's
// golang.org/x/mod/sumdb/note: the same key IDs, verifier-key strings and signature lines.
//
//   key ID        first 4 bytes of SHA-256(name || 0x0A || 0x01 || 32-byte public key), big-endian
//   verifier key  "<name>+<8 hex digits of key ID>+<base64(0x01 || public key)>"
//   note          text (ends in "\n") || "\n" || one or more "— <name> <base64(key ID || signature)>\n"
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace keyward::audit {

using PublicKey = std::array<std::uint8_t, 32>;

// Key names: non-empty, no Unicode spaces or '+', valid UTF-8 without control characters.
Status ValidateKeyName(std::string_view name);

std::uint32_t KeyId(std::string_view name, const PublicKey& key);

// A public key that may verify notes.
struct VerifierKey {
  std::string name;
  std::uint32_t id = 0;
  PublicKey key{};

  std::string ToString() const;  // the verifier-key string
};
Result<VerifierKey> ParseVerifierKey(std::string_view text);

// An Ed25519 private key and its name. Move-only; the private key stays inside OpenSSL and is freed
// (and cleansed by OpenSSL) on destruction.
class SigningKey {
 public:
  static Result<SigningKey> Generate(std::string name);
  // From a 32-byte Ed25519 seed (RFC 8032 private key).
  static Result<SigningKey> FromSeed(std::string name, std::span<const std::uint8_t> seed);
  // Reads a key file written by Save(). Refuses (FailedPrecondition) a file that its group or others
  // may read or write, naming the mode and the chmod to run.
  static Result<SigningKey> Load(const std::string& path);

  // Writes the key file (mode 0600, created exclusively: an existing file is never overwritten) and the
  // verifier key (path of your choosing, mode 0644).
  Status Save(const std::string& key_path) const;

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  const std::string& name() const { return verifier_.name; }
  const VerifierKey& verifier() const { return verifier_; }
  std::array<std::uint8_t, 64> Sign(std::string_view message) const;

 private:
  SigningKey() = default;
  struct Impl;
  // The key held by `impl`, under `name`: what Generate, FromSeed and Load end with.
  static Result<SigningKey> Adopt(std::string name, std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  VerifierKey verifier_;
};

bool VerifySignature(const PublicKey& key, std::string_view message, std::span<const std::uint8_t> signature);

struct NoteSignature {
  std::string name;
  std::uint32_t key_id = 0;
  std::string signature;  // raw bytes after the key ID
};

struct SignedNote {
  std::string text;  // ends with "\n"
  std::vector<NoteSignature> signatures;
};

// text + "\n" + the signature line of `key`.
Result<std::string> SignNote(std::string_view text, const SigningKey& key);
std::string FormatNote(const SignedNote& note);
// Parses the note format (not the signatures' validity). InvalidArgument says what is malformed.
Result<SignedNote> ParseNote(std::string_view note);

// Verifies `note` against `trusted` keys as c2sp.org/signed-note requires: signatures by unknown keys are
// ignored; a signature by a known key that fails makes the note invalid; at least one known key must
// have signed. Returns the names of the keys that verified. DataLoss when a signature is bad or no trusted
// key signed (the message says which).
Result<std::vector<std::string>> VerifyNote(const SignedNote& note, std::span<const VerifierKey> trusted);

// Base64 (RFC 4648 §4, with padding).
std::string Base64Encode(std::span<const std::uint8_t> bytes);
Result<std::vector<std::uint8_t>> Base64Decode(std::string_view text);

}  // namespace keyward::audit
