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

// True when `text` contains a control character: ASCII (U+0000..U+001F, U+007F), C1 (U+0080..U+009F),
// or a bidirectional formatting character (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069),
// which would let a name look like another in a message, a log or the audit log.
bool HasControlCharacter(std::string_view text) noexcept;

}  // namespace keyward

namespace keyward {
// `text` made safe to quote in a message or log line: printable ASCII and valid UTF-8 pass through,
// control characters (as HasControlCharacter counts them) and ill-formed bytes become \xNN, and
// anything past `max_bytes` becomes "...".
// Use it only for names (keys, scopes, ids) — never pass a secret value to a message at all.
std::string Printable(std::string_view text, std::size_t max_bytes = 96);
}  // namespace keyward
