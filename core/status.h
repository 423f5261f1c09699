// Status: the outcome of an operation that can fail, as a value.
//
// A Status is either OK or carries a canonical code and a human-readable message. Codes follow the
// canonical set used by abseil and gRPC; each maps one to one onto an HTTP status at the endpoint
// (see docs/api.md). Messages are for people: they name the thing that failed and the rule it broke,
// and they NEVER contain a secret value.
//
// Thread-safety: a Status is a value; distinct objects may be used from distinct threads.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>

namespace keyward {

enum class StatusCode : int {
  kOk = 0,
  kCancelled,
  kInvalidArgument,     // the caller sent something malformed
  kNotFound,            // the named thing does not exist
  kAlreadyExists,
  kPermissionDenied,    // authenticated, but policy or provider says no
  kUnauthenticated,     // no or bad credentials
  kResourceExhausted,   // a limit or quota was hit
  kFailedPrecondition,  // the system is not in a state that allows the operation
  kAborted,             // a concurrent change won (e.g. a check-and-set conflict)
  kUnimplemented,       // the operation does not exist here (e.g. writing to a read-only provider)
  kInternal,            // an invariant broke: a bug
  kUnavailable,         // transient: retrying later may succeed
  kDeadlineExceeded,
  kDataLoss,            // stored data is damaged
};

// Lower-case snake-case name of a code ("not_found"), as used in JSON error bodies.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // OK.
  Status() noexcept = default;
  // REQUIRES: code != kOk, or message is empty.
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {StatusCode::kAlreadyExists, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {StatusCode::kPermissionDenied, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) { return {StatusCode::kUnauthenticated, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) { return {StatusCode::kResourceExhausted, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) {
    return {StatusCode::kFailedPrecondition, std::move(msg)};
  }
  static Status Aborted(std::string msg) { return {StatusCode::kAborted, std::move(msg)}; }
  static Status Unimplemented(std::string msg) { return {StatusCode::kUnimplemented, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) { return {StatusCode::kDeadlineExceeded, std::move(msg)}; }
  static Status DataLoss(std::string msg) { return {StatusCode::kDataLoss, std::move(msg)}; }

  bool ok() const noexcept { return code_ == StatusCode::kOk; }
  StatusCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

  // "OK", or "<code name>: <message>".
  std::string ToString() const;

  // The same code with "<context>: " in front of the message. OK stays OK.
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);
std::ostream& operator<<(std::ostream& os, StatusCode code);

}  // namespace keyward

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define KEYWARD_RETURN_IF_ERROR(expr)                 \
  do {                                                \
    if (::keyward::Status kw_status_ = (expr); !kw_status_.ok()) { \
      return kw_status_;                              \
    }                                                 \
  } while (false)
