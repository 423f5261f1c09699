// EnvironmentProvider: the server's own environment variables as a read-only secret store.
//
// Only variables the configuration exposes can be read or listed: those named in the allow-list and
// those whose name starts with the prefix (either suffices; at least one of the two is configured).
// Scope is always "" and key is the variable's full name. Values are the variables' bytes, whatever
// they are (not necessarily UTF-8).
//
// Completions run inline, inside the call (there is no I/O). Put and Remove are kUnimplemented
// ("environment provider is read-only"). Get of a variable that is not exposed or not set is
// kNotFound naming the variable (the two are not told apart: that would reveal what the rest of the
// environment holds). List returns names only, sorted.
//
// Thread-safety: safe for concurrent use, as long as nothing in the process calls setenv/putenv
// meanwhile (the server never does).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/provider.h"

namespace keyward::providers {

// Whether a (non-empty) prefix rule exposes `name`: it starts with the prefix and is longer.
bool PrefixExposes(std::string_view prefix, std::string_view name);

struct EnvironmentOptions {
  std::string id;
  std::vector<std::string> allow;  // exact variable names
  std::string prefix;              // "" = no prefix rule
};

class EnvironmentProvider final : public Provider {
 public:
  explicit EnvironmentProvider(EnvironmentOptions options);

  const std::string& id() const override { return options_.id; }
  ProviderType type() const override { return ProviderType::kEnvironment; }

  void Get(const std::string& scope, const std::string& key, Deadline deadline, GetDone done) override;
  void List(const std::string& scope, Deadline deadline, ListDone done) override;
  void Put(const std::string& scope, const std::string& key, SecretValue value, Deadline deadline,
           StatusDone done) override;
  void Remove(const std::string& scope, const std::string& key, Deadline deadline, StatusDone done) override;
  void Health(Deadline deadline, StatusDone done) override;

  // True when the configuration exposes a variable named `name`.
  bool Exposes(std::string_view name) const;

 private:
  EnvironmentOptions options_;
};

}  // namespace keyward::providers
