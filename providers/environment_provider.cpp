#include "providers/environment_provider.h"

#include <algorithm>
#include <cstdlib>

#include "core/secret_ref.h"
#include "core/utf8.h"
#include "providers/adapter_util.h"

extern char** environ;

namespace keyward::providers {

EnvironmentProvider::EnvironmentProvider(EnvironmentOptions options) : options_(std::move(options)) {}

bool PrefixExposes(std::string_view prefix, std::string_view name) {
  return !prefix.empty() && name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0;
}

bool EnvironmentProvider::Exposes(std::string_view name) const {
  if (PrefixExposes(options_.prefix, name)) return true;
  return std::find(options_.allow.begin(), options_.allow.end(), name) != options_.allow.end();
}

void EnvironmentProvider::Get(const std::string& scope, const std::string& key, Deadline, GetDone done) {
  const std::string ctx = OpContext(ProviderType::kEnvironment, options_.id, "get", scope, key);
  if (Status s = ValidateSecretRef(ProviderType::kEnvironment, scope, key); !s.ok()) {
    return done(s.WithContext(ctx));
  }
  const char* value = Exposes(key) ? std::getenv(key.c_str()) : nullptr;
  if (value == nullptr) {
    return done(Status::NotFound(ctx + ": environment variable '" + key + "' is not set or not exposed to keyward"));
  }
  done(SecretValue(value));
}

void EnvironmentProvider::List(const std::string& scope, Deadline, ListDone done) {
  if (Status s = ValidateScope(ProviderType::kEnvironment, scope); !s.ok()) {
    return done(s.WithContext(OpContext(ProviderType::kEnvironment, options_.id, "list", scope, "")));
  }
  std::vector<ListedName> names;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = entry.substr(0, eq);
    if (!Exposes(name) || !ValidateSecretRef(ProviderType::kEnvironment, "", name).ok()) continue;
    names.push_back(ListedName{std::string(name), false});
  }
  std::sort(names.begin(), names.end(), [](const ListedName& a, const ListedName& b) { return a.name < b.name; });
  names.erase(std::unique(names.begin(), names.end()), names.end());
  done(std::move(names));
}

void EnvironmentProvider::Put(const std::string&, const std::string&, SecretValue, Deadline, StatusDone done) {
  done(Status::Unimplemented("environment provider is read-only"));
}

void EnvironmentProvider::Remove(const std::string&, const std::string&, Deadline, StatusDone done) {
  done(Status::Unimplemented("environment provider is read-only"));
}

void EnvironmentProvider::Health(Deadline, StatusDone done) { done(Status()); }

}  // namespace keyward::providers
