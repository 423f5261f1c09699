// UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace keyward {

// True when `text` is well-formed UTF-8.
bool IsValidUtf8(std::string_view text) noexcept;

// Byte offset of the first ill-formed sequence, or text.size() when the text is well-formed.
std::size_t FirstInvalidUtf8(std::string_view text) noexcept;

// True when `text` contains an ASCII control character (U+0000..U+001F or U+007F).
bool HasControlCharacter(std::string_view text) noexcept;

}  // namespace keyward

namespace keyward {
// `text` made safe to quote in a message or log line: printable ASCII and valid UTF-8 pass through,
// control characters and ill-formed bytes become \xNN, and anything past `max_bytes` becomes "...".
// Use it only for names (keys, scopes, ids) — never pass a secret value to a message at all.
std::string Printable(std::string_view text, std::size_t max_bytes = 96);
}  // namespace keyward
