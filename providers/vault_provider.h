// The Vault adapter: HashiCorp Vault's KV secrets engines (versions 1 and 2) behind the Provider port.
//
// Scope = the secret's path, whose first segment(s) name the mount ("secret/team-a/db"); key = one
// entry of the map stored there. Which KV version a mount runs is asked once per mount
// (sys/internal/ui/mounts/<path>) and cached for mount_cache_ttl.
//
//   Get     the entry's value: a string entry's bytes; any other JSON value as compact JSON text.
//   List    the sub-paths below the scope (is_scope = true, without the trailing '/') and the keys of
//           the map stored at the scope itself, sorted. A bare mount lists its top level. An empty
//           scope is kInvalidArgument: Vault has no list of mounts for us.
//   Put     read the map, set the entry, write the map back — on KV v2 with check-and-set on the
//           version read; a conflict is retried once from the read, then kAborted. Vault stores JSON
//           strings, so a value that is not valid UTF-8 is kInvalidArgument.
//   Remove  read, erase the entry, write back (check-and-set on v2); when the map becomes empty the
//           secret is deleted instead (v2: the version read is soft-deleted, so a concurrent writer's
//           newer version survives; v1 has no check-and-set and deletes the path).
//   Health  sys/health (a standby counts as healthy), then auth/token/lookup-self.
//
// Authentication: a token (from the configuration's env var or file) or AppRole (role id and secret
// id). The token's TTL is learnt from lookup-self, or from the login's auth.lease_duration, and the
// token is renewed (renew-self) once two thirds of it have passed — in the background, and by any
// operation that finds it due. When renewal fails, AppRole logs
// in again; a token read from a file is read again (an agent may have rotated it), and otherwise the
// token is used until it expires.
//
// Errors map as documented in providers.md: 403 → kPermissionDenied (kUnauthenticated when Vault
// says the token is invalid), 404 {"errors":[]} and the deleted-version 404 with a body → kNotFound,
// 503 "Vault is sealed" → kUnavailable, 429 → retried, then kUnavailable, malformed answers →
// kUnavailable. Messages name the provider, the operation, scope and key; never a value or a token.
//
// Every operation runs on the IoRuntime's thread and calls `done` there (see RemoteProvider).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/provider.h"
#include "providers/credential.h"
#include "providers/http/client.h"
#include "providers/remote_provider.h"

namespace keyward::providers {

struct VaultAuthOptions {
  enum class Method { kToken, kAppRole };
  Method method = Method::kToken;
  SecretValue token;                              // kToken
  std::optional<CredentialSource> token_source;   // kToken: read again when renewal fails, if a file
  SecretValue role_id;                            // kAppRole
  SecretValue secret_id;                          // kAppRole
  std::string approle_mount = "approle";          // kAppRole: auth/<mount>/login
};

struct VaultOptions {
  std::string id;
  http::Origin origin;
  std::string ns;  // X-Vault-Namespace; "" = none
  VaultAuthOptions auth;
  http::ClientOptions http;
  std::chrono::seconds mount_cache_ttl{600};
  // The clock token lifetimes and the mount cache are measured with; null = steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

// Builds the adapter. Errors: kInvalidArgument (HTTP client options: plain HTTP not allowed,
// unreadable CA file, ...). Makes no network call.
Result<std::unique_ptr<RemoteProvider>> MakeVaultProvider(std::shared_ptr<http::IoRuntime> runtime,
                                                          VaultOptions options);

}  // namespace keyward::providers
