// MakeProvider: builds a provider adapter from its section of the server configuration.
//
// A section is a JSON object with "id", "type" ("vault", "databricks" or "environment") and the
// type's connection settings; docs/providers.md documents every field. Credentials are never inline:
// a section names the environment variable or file each comes from ({"env": "VAULT_TOKEN"} or
// {"file": "/run/keyward/vault-token"}), and MakeProvider reads them.
//
// Validation works like the policy loader's: every problem is reported, each at its JSON pointer
// (context.pointer + the path inside the section), unknown fields included (they are usually typos).
// No network call is made: a provider that is down at start-up is found by Health, not here.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/provider.h"
#include "core/result.h"
#include "providers/http/runtime.h"

namespace keyward::providers {

struct ProviderContext {
  // Where the section sits in the whole configuration, for error pointers ("/providers/2"); "" when
  // the section is the whole document.
  std::string pointer;
  // The I/O thread network adapters run on, shared by all of them. Null: each network adapter starts
  // its own.
  std::shared_ptr<http::IoRuntime> runtime;
  // Measures token lifetimes (Vault); null = std::chrono::steady_clock::now. Tests inject their own.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

// The adapter `section` describes. Errors: kInvalidArgument summarising the problems ("2 problems in
// the provider section at /providers/2; the first: ..."), each also appended to `*errors` with its
// pointer — schema errors, and credentials that cannot be read (unset variable, missing file), which
// keep their own message. REQUIRES: errors != nullptr.
Result<std::unique_ptr<Provider>> MakeProvider(const Json& section, const ProviderContext& context,
                                               std::vector<Diagnostic>* errors);

}  // namespace keyward::providers
