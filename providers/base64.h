// Base64 (RFC 4648 §4, standard alphabet, with padding) into wiped buffers: Databricks carries secret
// bytes base64-encoded both ways.
#pragma once

#include <optional>
#include <string_view>

#include "providers/http/secure_string.h"

namespace keyward::providers {

http::SecureString Base64Encode(std::string_view bytes);

// Strict: the length is a multiple of 4, only the alphabet, '=' only as final padding, and the unused
// bits of the last symbol are zero (one encoding per value). nullopt otherwise.
std::optional<http::SecureString> Base64Decode(std::string_view text);

}  // namespace keyward::providers
