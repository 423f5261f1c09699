// SecureString: a byte string for request and response bodies, credentials in headers and the
// buffers around them (base64, JSON) — every byte it ever held is wiped before its memory is returned.
//
//   - WipingAllocator wipes each block on deallocation, so the copies a growing string leaves behind
//     when it reallocates are wiped too (std::string would free them as they are).
//   - ~SecureString also wipes the inline small-string buffer, which is never deallocated.
//
// Unlike SecretValue it is meant to be worked on (appended to, parsed, sent), so it can be copied and
// exposes its bytes; keep it inside the code that handles the bytes and turn it into a SecretValue at
// the edge.
//
// Thread-safety: a value; distinct objects may be used from distinct threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/secret_value.h"

namespace keyward {

// std::allocator that wipes every block before releasing it.
template <typename T>
struct WipingAllocator {
  using value_type = T;

  WipingAllocator() noexcept = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}  // NOLINT: rebinding, as std::allocator

  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    WipeMemory(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }

  template <typename U>
  friend bool operator==(const WipingAllocator&, const WipingAllocator<U>&) noexcept {
    return true;
  }
};

// The string type Beast bodies and buffers use inside the HTTP client, and SecureString's storage.
using WipedBasicString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

class SecureString {
 public:
  SecureString() = default;
  explicit SecureString(std::string_view bytes) : s_(bytes.data(), bytes.size()) {}
  ~SecureString() { Wipe(); }

  SecureString(const SecureString& other) : s_(other.s_) {}
  SecureString& operator=(const SecureString& other) {
    if (this != &other) {
      Wipe();
      s_ = other.s_;
    }
    return *this;
  }
  SecureString(SecureString&& other) noexcept : s_(std::move(other.s_)) { other.Wipe(); }
  SecureString& operator=(SecureString&& other) noexcept {
    if (this != &other) {
      Wipe();
      s_ = std::move(other.s_);
      other.Wipe();
    }
    return *this;
  }

  // Takes the bytes of `s` and wipes whatever stays behind in it (its inline buffer).
  static SecureString Adopt(WipedBasicString&& s) {
    SecureString out;
    out.s_ = std::move(s);
    WipeMemory(s.data(), s.capacity());  // NOLINT(bugprone-use-after-move): wiping the moved-from buffer
    s.clear();
    return out;
  }

  std::string_view view() const { return {s_.data(), s_.size()}; }
  const char* data() const { return s_.data(); }
  char* data() { return s_.data(); }
  std::size_t size() const { return s_.size(); }
  bool empty() const { return s_.empty(); }
  const WipedBasicString& str() const { return s_; }

  void reserve(std::size_t n) { s_.reserve(n); }
  void resize(std::size_t n) { s_.resize(n); }
  void push_back(char c) { s_.push_back(c); }
  void append(const char* p, std::size_t n) { s_.append(p, n); }
  void append(std::string_view v) { s_.append(v.data(), v.size()); }
  SecureString& operator+=(std::string_view v) {
    append(v);
    return *this;
  }
  SecureString& operator+=(char c) {
    push_back(c);
    return *this;
  }
  // Wipes the bytes and empties the string (the capacity is kept).
  void clear() {
    Wipe();
    s_.clear();
  }

  SecretValue ToSecretValue() const { return SecretValue(view()); }

 private:
  void Wipe() noexcept { WipeMemory(s_.data(), s_.capacity()); }

  WipedBasicString s_;
};

}  // namespace keyward
