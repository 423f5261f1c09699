#include "core/utf8.h"

#include <cstdint>

namespace keyward {

std::size_t FirstInvalidUtf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0Fu, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07u, min = 0x10000;
    } else {
      return i;  // continuation byte or 0xF8..0xFF as a lead byte
    }
    if (n - i < len) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char cc = p[i + k];
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return n;
}

bool IsValidUtf8(std::string_view text) noexcept { return FirstInvalidUtf8(text) == text.size(); }

namespace {

// The length of the invisible control character that starts at text[i] (see HasControlCharacter), or 0.
std::size_t InvisibleControlAt(std::string_view text, std::size_t i) noexcept {
  const auto at = [&](std::size_t k) { return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0u; };
  const unsigned c = at(0);
  if (c < 0x20 || c == 0x7F) return 1;
  if (c == 0xC2 && at(1) >= 0x80 && at(1) <= 0x9F) return 2;  // C1: U+0080..U+009F
  if (c == 0xD8 && at(1) == 0x9C) return 2;                    // U+061C ARABIC LETTER MARK
  if (c == 0xE2 && at(1) == 0x80 && (at(2) == 0x8E || at(2) == 0x8F || (at(2) >= 0xAA && at(2) <= 0xAE))) {
    return 3;  // U+200E/F marks, U+202A..U+202E embeddings and overrides
  }
  if (c == 0xE2 && at(1) == 0x81 && at(2) >= 0xA6 && at(2) <= 0xA9) return 3;  // U+2066..U+2069 isolates
  return 0;
}

}  // namespace

bool HasControlCharacter(std::string_view text) noexcept {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (InvisibleControlAt(text, i) != 0) return true;
  }
  return false;
}

}  // namespace keyward

namespace keyward {

std::string Printable(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c >= 0x80) {
      // Copy one whole well-formed sequence, if there is one here and it is not an invisible control
      // (those are escaped byte by byte below, like ASCII controls).
      const std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      if (len != 0 && i + len <= text.size() && IsValidUtf8(text.substr(i, len)) && InvisibleControlAt(text, i) == 0) {
        out.append(text.substr(i, len));
        i += len;
        continue;
      }
    }
    static constexpr char kHex[] = "0123456789ABCDEF";
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0x0F];
    ++i;
  }
  return out;
}

}  // namespace keyward
