#include "providers/credential.h"

#include <cstdlib>

#include "core/file.h"

namespace keyward::providers {
namespace {

constexpr std::size_t kMaxCredentialBytes = 64 * 1024;

}  // namespace

std::string CredentialSource::Describe() const {
  return (kind == Kind::kEnv ? "environment variable " : "file ") + name;
}

Result<SecretValue> CredentialSource::Load() const {
  std::string text;
  if (kind == Kind::kEnv) {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return Status::NotFound(Describe() + " is not set");
    text = v;
  } else {
    if (Status exposed = CheckNotExposed(name, "credential file"); !exposed.ok()) return exposed;
    auto r = ReadFile(name, kMaxCredentialBytes);
    if (!r.has_value()) return r.error().WithContext("credential");
    text = std::move(*r);
    if (text.size() >= 2 && text.compare(text.size() - 2, 2, "\r\n") == 0) {
      text.resize(text.size() - 2);
    } else if (!text.empty() && text.back() == '\n') {
      text.pop_back();
    }
  }
  Status problem;
  if (text.empty()) {
    problem = Status::InvalidArgument(Describe() + " is empty");
  } else if (text.size() > kMaxCredentialBytes) {
    problem = Status::InvalidArgument(Describe() + " is larger than 64 KiB");
  } else {
    for (const char ch : text) {
      const auto c = static_cast<unsigned char>(ch);
      if (c <= 0x20 || c == 0x7F) {
        problem = Status::InvalidArgument(Describe() + " contains whitespace or a control character");
        break;
      }
    }
  }
  SecretValue value(text);
  WipeMemory(text.data(), text.capacity());
  if (!problem.ok()) return problem;
  return value;
}

}  // namespace keyward::providers
