// The server configuration (docs/config.md): one JSON file, validated like a policy — every problem at
// once, each with its JSON pointer. Relative paths are relative to the configuration file's directory.
//
// Checking a configuration takes two steps, which `keyward-server --check` and the server at start run
// alike, so that a configuration that passes `--check` does not fail at start for any reason they cover:
//
//   LoadConfig  the document itself (no other file is touched): types, ranges, the listen address is an
//               IP address literal, no empty paths or origin, principal ids, token hashes, certificate
//               identities, and one principal per credential.
//   Preflight   (tools/keyward-server/preflight.h) the files it names that start would load: the TLS
//               certificate chain, private key and client CAs, and the audit signing key.
//
// Then come the policy and the provider sections, and the policy against the providers
// (CrossCheckProviders). What none of these checks: the audit database and export file (opened at
// start) and whether the port can be bound.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "audit/store.h"
#include "core/http/api.h"
#include "core/http/auth.h"
#include "core/http/server.h"
#include "core/json.h"
#include "core/result.h"
#include "core/vocabulary.h"
#include "policy/policy.h"

namespace keyward::server {

inline constexpr std::size_t kMaxConfigBytes = 4u << 20;

// `auth`: throttling of addresses that keep failing authentication, in the configuration's units.
struct AuthLimits {
  int max_failures = 10;
  std::chrono::milliseconds failure_window{60000};
  std::chrono::milliseconds block{60000};
};

struct Config {
  std::string path;  // of the configuration file
  http::ServerOptions listen;
  bool tls = false;  // listen.certificate and listen.private_key are set (and not empty)
  http::ApiOptions api;
  AuthLimits auth;
  std::chrono::milliseconds shutdown_grace{10000};
  audit::AuditOptions audit;
  std::string policy_path;
  Json providers = Json::array();  // the sections (file paths resolved), handed to providers::MakeProvider
  std::vector<http::PrincipalCredentials> principals;
};

// Reads and validates `path`. InvalidArgument (with every problem appended to *errors, each with its
// pointer) for an invalid file; the file's own error (NotFound, PermissionDenied, ...) and no
// diagnostics when it cannot be read. REQUIRES: errors != nullptr.
Result<Config> LoadConfig(const std::string& path, std::vector<Diagnostic>* errors);

// listen.io_threads when the configuration leaves it out: one per CPU the process may run on (its
// affinity mask, as taskset or a cpuset sets it; not a CFS quota) less one for the audit log's writer,
// whose commit is on the path of every request; at least 1, at most 64.
int DefaultIoThreads();

// The throttle settings for http::Authenticator. Exact when its Throttle counts milliseconds; a
// coarser unit is rounded up (a block is never shorter than configured).
http::Authenticator::Throttle MakeThrottle(const AuthLimits& limits);

// Why `id` cannot be a principal id, or "" when it can. The rule is the policy language's
// (docs/policy.md#ids; the policy loader decides), and a principal id is literal: no '*'.
// Used for `principals[].id` and by `keyward-server mint-token`.
std::string PrincipalIdProblem(std::string_view id);

// The `principals` entry for one token hash, as `mint-token` prints it: one line of JSON,
// {"id": "<id>", "tokens": ["<hash>"]}, valid JSON whatever `id` holds.
std::string PrincipalEntryLine(std::string_view id, std::string_view token_hash);

// A provider section that was built: its type, and its index in the configuration's "providers".
struct ConfiguredProvider {
  ProviderType type = ProviderType::kVault;
  std::size_t index = 0;
};

// Every provider the policy defines must be configured with the same id and type. Returns one error per
// disagreement (empty when they agree): "/providers" when the policy's provider has no section,
// "/providers/N/type" when the section's type differs. Messages name the policy's provider id.
std::vector<Diagnostic> CrossCheckProviders(const policy::Policy& policy,
                                            const std::map<std::string, ConfiguredProvider>& configured);

}  // namespace keyward::server
