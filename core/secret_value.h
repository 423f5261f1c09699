// SecretValue: the bytes of a secret, held as briefly and as carefully as we can.
//
//   - The memory is wiped (OPENSSL_cleanse) when the value is destroyed or overwritten.
//   - It cannot be printed, streamed, formatted or implicitly converted: reading it takes an explicit
//     call to reveal(), which is easy to find in review.
//   - Move-only. Copying takes an explicit Clone().
// Values may be arbitrary bytes (Databricks and Vault store binary); is_utf8() tells whether they can
// be handed out as a JSON string or need base64.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace keyward {

class SecretValue {
 public:
  SecretValue() = default;
  // Copies `bytes` into a fresh buffer. The caller remains responsible for wiping its own copy.
  explicit SecretValue(std::string_view bytes);
  ~SecretValue();

  SecretValue(SecretValue&& other) noexcept;
  SecretValue& operator=(SecretValue&& other) noexcept;
  SecretValue(const SecretValue&) = delete;
  SecretValue& operator=(const SecretValue&) = delete;

  SecretValue Clone() const { return SecretValue(reveal()); }

  // The bytes. The view is valid until this value is destroyed, moved from or assigned to.
  std::string_view reveal() const { return {data_.get(), size_}; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool is_utf8() const;

 private:
  void Wipe() noexcept;

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

// Overwrites `size` bytes at `p` in a way the compiler cannot elide.
void WipeMemory(void* p, std::size_t size) noexcept;

}  // namespace keyward
