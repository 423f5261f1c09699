// JSON for bodies that carry secret values, without leaving copies of them behind: serialisation
// straight into a wiped buffer, and wiping the strings of a parsed document once it has been used.
// (Parsing itself goes through core's strict ParseJson.)
#pragma once

#include "core/json.h"
#include "core/secure_string.h"

namespace keyward::providers {

// Compact JSON for `value`, as nlohmann's dump() would write it (UTF-8 passed through, control
// characters escaped), appended to `*out`. REQUIRES: every string in `value` is valid UTF-8 (callers
// check values before they put them in a document).
void WriteJson(const Json& value, SecureString* out);
SecureString ToJson(const Json& value);
// `text` as a JSON string literal (quotes and escapes), appended to `*out`. REQUIRES: valid UTF-8.
void WriteJsonString(std::string_view text, SecureString* out);

// Overwrites the bytes of every string in `value` (object keys are names, not values, and stay).
void WipeJsonStrings(Json* value);

// A parsed document that wipes its strings when it goes out of scope.
class WipedJson {
 public:
  explicit WipedJson(Json j) : json_(std::move(j)) {}
  ~WipedJson() { WipeJsonStrings(&json_); }
  WipedJson(const WipedJson&) = delete;
  WipedJson& operator=(const WipedJson&) = delete;
  WipedJson(WipedJson&& other) noexcept : json_(std::move(other.json_)) {}
  WipedJson& operator=(WipedJson&& other) noexcept {
    WipeJsonStrings(&json_);
    json_ = std::move(other.json_);
    return *this;
  }

  Json& get() { return json_; }
  const Json& get() const { return json_; }

 private:
  Json json_;
};

}  // namespace keyward::providers
