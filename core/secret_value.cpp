#include "core/secret_value.h"

#include <openssl/crypto.h>

#include <cstring>

#include "core/utf8.h"

namespace keyward {

void WipeMemory(void* p, std::size_t size) noexcept {
  if (p != nullptr && size > 0) OPENSSL_cleanse(p, size);
}

SecretValue::SecretValue(std::string_view bytes) : size_(bytes.size()) {
  if (size_ > 0) {
    data_ = std::make_unique<char[]>(size_);
    std::memcpy(data_.get(), bytes.data(), size_);
  }
}

SecretValue::~SecretValue() { Wipe(); }

SecretValue::SecretValue(SecretValue&& other) noexcept : data_(std::move(other.data_)), size_(other.size_) {
  other.size_ = 0;
}

SecretValue& SecretValue::operator=(SecretValue&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    size_ = other.size_;
    other.size_ = 0;
  }
  return *this;
}

void SecretValue::Wipe() noexcept {
  WipeMemory(data_.get(), size_);
  data_.reset();
  size_ = 0;
}

bool SecretValue::is_utf8() const { return IsValidUtf8(reveal()); }

}  // namespace keyward
