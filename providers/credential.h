// Where a credential (a token, a role id, a secret id) comes from: an environment variable or a file
// named in the configuration — never the configuration itself.
#pragma once

#include <string>

#include "core/result.h"
#include "core/secret_value.h"

namespace keyward::providers {

struct CredentialSource {
  enum class Kind { kEnv, kFile };
  Kind kind = Kind::kEnv;
  std::string name;  // the variable's name, or the file's path

  // "environment variable VAULT_TOKEN", "file /run/keyward/token".
  std::string Describe() const;

  // The credential. A file's one trailing newline ("\n" or "\r\n") is dropped, as written by
  // `echo` or a Vault agent sink. Errors: NotFound (variable not set, no such file), PermissionDenied
  // (unreadable file), InvalidArgument (empty, larger than 64 KiB, or containing whitespace or
  // control characters, which no token has). Messages name the source, never the credential.
  Result<SecretValue> Load() const;

  friend bool operator==(const CredentialSource&, const CredentialSource&) = default;
};

}  // namespace keyward::providers
