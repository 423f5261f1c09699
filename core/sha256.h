// SHA-256 through OpenSSL's EVP interface, and lower-case hex.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace keyward {

using Digest = std::array<std::uint8_t, 32>;

// SHA-256 of the concatenation of `parts`. Thread-safe.
Digest Sha256(std::string_view data);
Digest Sha256(std::span<const std::string_view> parts);

// Lower-case hex of `bytes`.
std::string ToHex(std::span<const std::uint8_t> bytes);
inline std::string ToHex(const Digest& d) { return ToHex(std::span<const std::uint8_t>(d)); }

// Constant-time equality of two byte strings of equal length; false when the lengths differ
// (the length itself is not secret).
bool ConstantTimeEquals(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept;

}  // namespace keyward
