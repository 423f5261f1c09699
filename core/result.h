// Result<T>: a T, or the non-OK Status that explains why there is none.
//
// The member names mirror C++23 std::expected (has_value, value, error, operator*, operator->,
// value_or), so moving to std::expected later is mechanical. Accessing the value of a Result that
// holds an error is a programming error and terminates the process with a message.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/status.h"

namespace keyward {

namespace internal {
[[noreturn]] void DieBadResultAccess(const Status& status);
}  // namespace internal

template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "use Status, not Result<Status>");

 public:
  using value_type = T;
  using error_type = Status;

  Result(const T& value) : v_(std::in_place_index<0>, value) {}  // NOLINT: implicit like std::expected
  Result(T&& value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  template <typename U>
    requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, Status> &&
             !std::is_same_v<std::decay_t<U>, Result>)
  Result(U&& value) : v_(std::in_place_index<0>, std::forward<U>(value)) {}  // NOLINT
  // REQUIRES: !status.ok(). An OK status becomes an Internal error rather than a Result without value.
  Result(Status status)  // NOLINT: implicit so that `return Status::NotFound(...)` works
      : v_(std::in_place_index<1>, status.ok() ? Status::Internal("Result built from an OK status")
                                               : std::move(status)) {}
  template <typename... Args>
  explicit Result(std::in_place_t, Args&&... args) : v_(std::in_place_index<0>, std::forward<Args>(args)...) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { Check(); return std::get<0>(v_); }
  const T& value() const& { Check(); return std::get<0>(v_); }
  T&& value() && { Check(); return std::get<0>(std::move(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }

  // REQUIRES: !has_value().
  const Status& error() const& {
    if (has_value()) internal::DieBadResultAccess(Status::Internal("error() called on a value"));
    return std::get<1>(v_);
  }
  Status&& error() && {
    if (has_value()) internal::DieBadResultAccess(Status::Internal("error() called on a value"));
    return std::get<1>(std::move(v_));
  }

  // OK when a value is held, else the error.
  Status status() const { return has_value() ? Status() : std::get<1>(v_); }

 private:
  void Check() const {
    if (!has_value()) internal::DieBadResultAccess(std::get<1>(v_));
  }
  std::variant<T, Status> v_;
};

}  // namespace keyward

#define KEYWARD_INTERNAL_CONCAT2(a, b) a##b
#define KEYWARD_INTERNAL_CONCAT(a, b) KEYWARD_INTERNAL_CONCAT2(a, b)
#define KEYWARD_INTERNAL_ASSIGN_OR_RETURN(tmp, lhs, expr) \
  auto tmp = (expr);                                      \
  if (!tmp.has_value()) return std::move(tmp).error();   \
  lhs = std::move(tmp).value()

// `KEYWARD_ASSIGN_OR_RETURN(auto x, MakeX());` returns the error from the enclosing function, or binds x.
#define KEYWARD_ASSIGN_OR_RETURN(lhs, expr) \
  KEYWARD_INTERNAL_ASSIGN_OR_RETURN(KEYWARD_INTERNAL_CONCAT(kw_result_, __LINE__), lhs, expr)
