// Base64 (RFC 4648 §4: standard alphabet, padded), appending to any string type — std::string, or a
// string with a wiping allocator for secret bytes.
#pragma once

#include <cstdint>
#include <string_view>

namespace keyward {

// Appends the base64 of `bytes` to `*out`.
template <typename String>
void Base64Append(std::string_view bytes, String* out) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* b = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const std::size_t n = bytes.size();
  out->reserve(out->size() + (n + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{b[i]} << 16) | (std::uint32_t{b[i + 1]} << 8) | b[i + 2];
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
    out->push_back(kAlphabet[v & 63]);
  }
  if (i < n) {
    const std::uint32_t v = (std::uint32_t{b[i]} << 16) | (i + 1 < n ? std::uint32_t{b[i + 1]} << 8 : 0u);
    out->push_back(kAlphabet[v >> 18]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=');
    out->push_back('=');
  }
}

// Appends the bytes `text` encodes to `*out`. Strict: length a multiple of 4, only the alphabet, '='
// only as final padding, unused bits of the last symbol zero (one encoding per value). False otherwise
// (`*out` may then hold a partial result).
template <typename String>
bool Base64DecodeAppend(std::string_view t, String* out) {
  if (t.size() % 4 != 0) return false;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out->reserve(out->size() + t.size() / 4 * 3);
  for (std::size_t i = 0; i < t.size(); i += 4) {
    const bool last = i + 4 == t.size();
    const std::size_t pad = last ? (t[i + 3] == '=' ? (t[i + 2] == '=' ? 2 : 1) : 0) : 0;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      int x = 0;
      if (k < 4 - pad) {
        x = value(t[i + k]);
        if (x < 0) return false;
      }
      v = (v << 6) | static_cast<std::uint32_t>(x);
    }
    out->push_back(static_cast<char>(v >> 16));
    if (pad < 2) out->push_back(static_cast<char>((v >> 8) & 0xFF));
    if (pad < 1) out->push_back(static_cast<char>(v & 0xFF));
    if ((pad == 1 && (v & 0xFF)) || (pad == 2 && (v & 0xFFFF))) return false;
  }
  return true;
}

}  // namespace keyward
