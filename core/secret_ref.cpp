#include "core/secret_ref.h"

#include "core/utf8.h"

namespace keyward {
namespace {

bool IsAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

Status BadChar(std::string_view what, std::string_view text, std::size_t pos, std::string_view allowed) {
  return Status::InvalidArgument(std::string(what) + " '" + Printable(text) + "' has a character that is not allowed at position " +
                                 std::to_string(pos) + " (allowed: " + std::string(allowed) + ")");
}

Status CheckText(std::string_view what, std::string_view text) {
  // Fast path for the common case, printable ASCII: one pass, no allocation.
  bool printable_ascii = true;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    printable_ascii = printable_ascii && c >= 0x20 && c < 0x7F;
  }
  if (printable_ascii) return Status();
  if (const std::size_t bad = FirstInvalidUtf8(text); bad != text.size()) {
    return Status::InvalidArgument(std::string(what) + " '" + Printable(text) + "' is not valid UTF-8 (byte " +
                                   std::to_string(bad) + ")");
  }
  if (HasControlCharacter(text)) {
    return Status::InvalidArgument(std::string(what) + " '" + Printable(text) + "' contains a control character");
  }
  return Status();
}

Status DatabricksName(std::string_view what, std::string_view name, bool allow_at) {
  if (name.empty()) return Status::InvalidArgument(std::string(what) + " must not be empty");
  if (name.size() > kMaxDatabricksName) {
    return Status::InvalidArgument(std::string(what) + " is " + std::to_string(name.size()) +
                                   " characters long; Databricks allows at most 128");
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (IsAsciiAlnum(c) || c == '-' || c == '_' || c == '.' || (allow_at && c == '@')) continue;
    return BadChar(what, name, i,
                   allow_at ? "letters, digits, '-', '_', '.', '@'" : "letters, digits, '-', '_', '.'");
  }
  return Status();
}

Status VaultPath(std::string_view path, bool require_path_after_mount) {
  if (path.empty()) return Status::InvalidArgument("vault path must not be empty");
  if (path.size() > kMaxVaultPath) {
    return Status::InvalidArgument("vault path is " + std::to_string(path.size()) + " bytes long; at most " +
                                   std::to_string(kMaxVaultPath) + " are allowed");
  }
  KEYWARD_RETURN_IF_ERROR(CheckText("vault path", path));
  if (path.front() == '/') {
    return Status::InvalidArgument("vault path '" + Printable(path) + "' must not start with '/'");
  }
  if (path.back() == '/') {
    return Status::InvalidArgument("vault path '" + Printable(path) + "' must not end with '/'");
  }
  std::size_t segments = 0;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view seg = path.substr(start, end - start);
    if (seg.empty()) return Status::InvalidArgument("vault path '" + Printable(path) + "' has an empty segment");
    if (seg == "." || seg == "..") {
      return Status::InvalidArgument("vault path '" + Printable(path) + "' has a '" + std::string(seg) +
                                     "' segment; paths must not navigate");
    }
    ++segments;
    start = end + 1;
  }
  if (require_path_after_mount && segments < 2) {
    return Status::InvalidArgument("vault path '" + Printable(path) +
                                   "' names only a mount; a secret lives at '<mount>/<path>'");
  }
  return Status();
}

Status VaultKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("vault key must not be empty");
  if (key.size() > kMaxVaultKey) {
    return Status::InvalidArgument("vault key is " + std::to_string(key.size()) + " bytes long; at most " +
                                   std::to_string(kMaxVaultKey) + " are allowed");
  }
  KEYWARD_RETURN_IF_ERROR(CheckText("vault key", key));
  if (key.find('/') != std::string_view::npos) {
    return Status::InvalidArgument("vault key '" + Printable(key) +
                                   "' contains '/': a key is one entry of the map stored at the path; "
                                   "put path segments in the scope");
  }
  return Status();
}

Status EnvName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("environment variable name must not be empty");
  if (name.size() > kMaxEnvName) {
    return Status::InvalidArgument("environment variable name is " + std::to_string(name.size()) +
                                   " characters long; at most " + std::to_string(kMaxEnvName) + " are allowed");
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) {
      return BadChar("environment variable name", name, i, "[A-Za-z_][A-Za-z0-9_]*");
    }
  }
  return Status();
}

Status EnvScope(std::string_view scope) {
  if (!scope.empty()) {
    return Status::InvalidArgument("environment variables have no scope, got scope '" + Printable(scope) + "'");
  }
  return Status();
}

}  // namespace

Status ValidateSecretRef(ProviderType type, std::string_view scope, std::string_view key) {
  switch (type) {
    case ProviderType::kDatabricks:
      KEYWARD_RETURN_IF_ERROR(DatabricksName("databricks scope", scope, /*allow_at=*/true));
      return DatabricksName("databricks key", key, /*allow_at=*/false);
    case ProviderType::kVault:
      KEYWARD_RETURN_IF_ERROR(VaultPath(scope, /*require_path_after_mount=*/true));
      return VaultKey(key);
    case ProviderType::kEnvironment:
      KEYWARD_RETURN_IF_ERROR(EnvScope(scope));
      return EnvName(key);
  }
  return Status::InvalidArgument("unknown provider type");
}

Status ValidateScope(ProviderType type, std::string_view scope) {
  switch (type) {
    case ProviderType::kDatabricks: return DatabricksName("databricks scope", scope, /*allow_at=*/true);
    case ProviderType::kVault: return VaultPath(scope, /*require_path_after_mount=*/false);
    case ProviderType::kEnvironment: return EnvScope(scope);
  }
  return Status::InvalidArgument("unknown provider type");
}

std::string FormatSecretRef(std::string_view provider, std::string_view scope, std::string_view key) {
  std::string out(provider);
  out += ':';
  if (!scope.empty()) {
    out += scope;
    out += '/';
  }
  out += key;
  return out;
}

Result<SecretRef> ParseSecretRef(std::string_view text) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("secret '" + Printable(text) +
                                   "' is not PROVIDER:SCOPE/KEY (or PROVIDER:KEY for environment variables)");
  }
  SecretRef ref;
  ref.provider = std::string(text.substr(0, colon));
  const std::string_view rest = text.substr(colon + 1);
  const std::size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos) {
    ref.key = std::string(rest);
  } else {
    ref.scope = std::string(rest.substr(0, slash));
    ref.key = std::string(rest.substr(slash + 1));
  }
  return ref;
}

}  // namespace keyward
