// Base64 (RFC 4648 §4, standard alphabet, with padding) into wiped buffers: Databricks carries secret
// bytes base64-encoded both ways. core/base64.h does the work; these give it a SecureString.
#pragma once

#include <optional>
#include <string_view>

#include "core/base64.h"
#include "core/secure_string.h"

namespace keyward::providers {

inline SecureString Base64Encode(std::string_view bytes) {
  SecureString out;
  Base64Append(bytes, &out);
  return out;
}

// Strict: the length is a multiple of 4, only the alphabet, '=' only as final padding, and the unused
// bits of the last symbol are zero (one encoding per value). nullopt otherwise.
inline std::optional<SecureString> Base64Decode(std::string_view text) {
  SecureString out;
  if (!Base64DecodeAppend(text, &out)) return std::nullopt;
  return out;
}

}  // namespace keyward::providers
