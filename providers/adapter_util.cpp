#include "providers/adapter_util.h"

#include "core/utf8.h"
#include "providers/base64.h"

namespace keyward::providers {
namespace {

std::string ReplaceAll(std::string text, std::string_view needle, std::string_view with) {
  if (needle.empty()) return text;
  for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + with.size())) {
    text.replace(pos, needle.size(), with);
  }
  return text;
}

}  // namespace

std::string OpContext(ProviderType type, std::string_view id, std::string_view op, std::string_view scope,
                      std::string_view key) {
  std::string out = std::string(ProviderTypeName(type)) + " provider '" + Printable(id) + "': " + std::string(op);
  if (!scope.empty()) out += " '" + Printable(scope, 200) + "'";
  if (!key.empty()) out += (scope.empty() ? " '" : " key '") + Printable(key, 200) + "'";
  return out;
}

Status Scrub(Status s, std::string_view value) {
  if (s.ok() || value.empty()) return s;
  const SecureString b64 = Base64Encode(value);
  std::string msg = ReplaceAll(s.message(), value, "[redacted]");
  msg = ReplaceAll(std::move(msg), b64.view(), "[redacted]");
  // Printable() renders bytes outside printable ASCII as \xNN: catch the value in that form too.
  msg = ReplaceAll(std::move(msg), Printable(value, value.size() * 4 + 4), "[redacted]");
  return Status(s.code(), std::move(msg));
}

Status Malformed(const std::string& context, std::string_view what) {
  return Status::Unavailable(context + ": malformed response: " + std::string(what));
}

Status TransportError(const std::string& context, const Status& s) { return s.WithContext(context); }

}  // namespace keyward::providers
