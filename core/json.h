// Strict JSON input for every document keyward reads: policies, configuration, request bodies.
//
// nlohmann::json alone accepts duplicate object keys (the last one silently wins) and has no depth
// limit; both are unacceptable for security documents ("effect":"deny","effect":"allow"). ParseJson
// rejects duplicates and over-deep nesting, and its error messages give a position and a JSON pointer
// but never echo document content: request bodies may carry secret values.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace keyward {

using Json = nlohmann::json;

struct JsonLimits {
  std::size_t max_depth = 64;       // nesting of objects and arrays
  bool allow_comments = false;      // `//` and `/* */` (policy and configuration files only)
  // Whether error messages may name keys of the document (the JSON pointer of the position, a
  // duplicated key). Off for documents that may hold secret values, such as a provider's answer,
  // where a value may itself be an object whose keys are part of the secret.
  bool name_keys = true;
  // Whether numbers with a fraction or an exponent, or too large for 64 bits, are kept as the text they
  // were written with (a binary value of subtype kNumberTextSubtype) instead of a double, so that they
  // can be handed out and written back byte for byte: 1.10 stays 1.10, 12345678901234567890123 stays
  // itself. For a map of secret values; integers of 64 bits are exact either way.
  bool keep_number_text = false;
};

// The subtype of a binary value that holds a number's text (JsonLimits::keep_number_text).
inline constexpr std::uint8_t kNumberTextSubtype = 0x4E;  // 'N'

// For a document that may hold secret values: messages give line and column only.
inline constexpr JsonLimits kSecretDocument{64, false, false, false};
// For a map of secret values (a Vault secret): the same, and numbers kept as written.
inline constexpr JsonLimits kSecretMap{64, false, false, true};

// Parses `text` as one JSON document.
// Errors (InvalidArgument): syntax errors, ill-formed UTF-8, a duplicate key ("duplicate key 'effect'
// at /rules/0"), nesting deeper than limits.max_depth. The message names line, column and the JSON
// pointer of the enclosing value (not with limits.name_keys off); it never quotes a value, a number
// or any other token of the document.
Result<Json> ParseJson(std::string_view text, const JsonLimits& limits = {});

// RFC 6901 pointer helpers: "/rules/3/effect".
std::string JsonPointerEscape(std::string_view token);
std::string JsonPointerJoin(std::string_view base, std::string_view token);
std::string JsonPointerJoin(std::string_view base, std::size_t index);

// One problem found in a document, at an RFC 6901 pointer ("" is the whole document).
struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string pointer;
  std::string kind;     // short machine-readable class: "unknown-field", "type", "duplicate-id", ...
  std::string message;  // what was found and what was expected

  std::string ToString() const;  // "error: /rules/3/effect: expected \"allow\" or \"deny\", got \"alow\""
};

// Renders a JSON value for an error message about a *configuration or policy* document (never a
// request body): strings quoted, long values shortened.
std::string DescribeJsonValue(const Json& value);
// "a string", "an array", ... for messages such as "expected a string, got an array".
std::string_view JsonTypeName(const Json& value);

// Member `key` of an answer from another server when it is present with the expected type, else
// `fallback`. Unlike Json::value they never throw (value() throws on a member of another type, or on
// a document that is not an object), so an odd answer cannot escape a completion handler.
bool BoolMember(const Json& object, const char* key, bool fallback);
std::int64_t IntMember(const Json& object, const char* key, std::int64_t fallback);
std::string StringMember(const Json& object, const char* key, std::string fallback);

// Walks a parsed document and records every schema problem instead of stopping at the first.
class SchemaReader {
 public:
  explicit SchemaReader(std::vector<Diagnostic>* out) : out_(out) {}
  SchemaReader(const SchemaReader&) = delete;
  SchemaReader& operator=(const SchemaReader&) = delete;

  void Error(std::string pointer, std::string kind, std::string message);
  std::size_t error_count() const { return errors_; }
  // Added to the message for an empty array where one element at least is required (the policy's
  // lists: 'use ["*"] to mean every one'). None by default.
  void set_empty_array_hint(std::string hint) { empty_array_hint_ = std::move(hint); }

  // True when `value` is an object. Reports a type error otherwise, and reports each member whose name
  // is not in `known` as "unknown-field" (unknown fields are usually typos).
  bool Object(const Json& value, const std::string& pointer, std::initializer_list<std::string_view> known);

  // Member accessors. `obj` must be an object. A missing required member is reported as "missing-field";
  // a member of the wrong type as "type". They return nullopt in both cases.
  std::optional<std::string> String(const Json& obj, const std::string& pointer, std::string_view name,
                                    bool required);
  std::optional<bool> Bool(const Json& obj, const std::string& pointer, std::string_view name, bool required);
  std::optional<std::int64_t> Integer(const Json& obj, const std::string& pointer, std::string_view name,
                                      bool required, std::int64_t min, std::int64_t max);
  // An array member; returns a pointer to it, or nullptr (reported) when missing or not an array.
  const Json* Array(const Json& obj, const std::string& pointer, std::string_view name, bool required,
                    bool allow_empty);
  // An array of strings; elements of another type are reported at their own pointer and skipped.
  std::optional<std::vector<std::string>> StringArray(const Json& obj, const std::string& pointer,
                                                      std::string_view name, bool required, bool allow_empty);

 private:
  std::vector<Diagnostic>* out_;
  std::size_t errors_ = 0;
  std::string empty_array_hint_;
};

}  // namespace keyward
