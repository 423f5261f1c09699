// Fuzzes core's strict JSON reader (ParseJson), the SchemaReader with the resolve request's schema, and
// SecretRef validation — the code every request body goes through before the Resolver sees it.
//
// Input: byte 0 chooses the limits (bit 0: comments allowed; bits 1..: max_depth 1..64), the rest is the
// document.
//
// Invariants:
//   - The server's resolve fast path (ReadWellFormedResolveRequest) accepts exactly the bodies that
//     ParseJson and ReadResolveRequest read without an error, and reads them identically.
//   - ParseJson accepts exactly what nlohmann's own strict SAX parser accepts, minus documents with a
//     duplicate key or nesting deeper than max_depth (a differential oracle).
//   - An accepted document re-serialised parses again to an equal value.
//   - An error message never quotes a string value of the document (it may hold a secret).
//   - SchemaReader: one Diagnostic per error it counts, each with a known kind and a pointer that
//     exists in the document (for a missing field, the object that lacks it).
//   - ValidateSecretRef never throws; a valid ref has a valid scope (ValidateScope) and survives
//     FormatSecretRef -> ParseSecretRef; Printable output is valid UTF-8 without control characters.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/http/api.h"
#include "core/json.h"
#include "core/secret_ref.h"
#include "core/utf8.h"
#include "core/vocabulary.h"
#include "tests/fuzz/fuzz_check.h"

namespace keyward {
namespace {

// What nlohmann's parser sees, independently of StrictDomBuilder: depth, duplicate keys, strings.
class Oracle {
 public:
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(Json::number_integer_t) { return true; }
  bool number_unsigned(Json::number_unsigned_t) { return true; }
  bool number_float(Json::number_float_t, const std::string&) { return true; }
  bool string(std::string& s) {
    values.push_back(s);
    return true;
  }
  bool binary(Json::binary_t&) { return false; }
  bool start_object(std::size_t) {
    keys_.emplace_back();
    max_depth = std::max(max_depth, ++depth_);
    return true;
  }
  bool start_array(std::size_t) {
    keys_.emplace_back();
    max_depth = std::max(max_depth, ++depth_);
    return true;
  }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(std::string& k) {
    if (!keys_.back().insert(k).second) duplicate = true;
    all_keys.push_back(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

  std::size_t max_depth = 0;
  bool duplicate = false;
  std::vector<std::string> values;
  std::vector<std::string> all_keys;

 private:
  bool Close() {
    keys_.pop_back();
    --depth_;
    return true;
  }
  std::size_t depth_ = 0;
  std::vector<std::set<std::string>> keys_;
};

// A string value that could only be in a message by being quoted from the document: long, letters and
// digits mixed, and not part of any key (keys legitimately appear in pointers).
bool LooksQuotable(const std::string& v, const std::vector<std::string>& keys) {
  if (v.size() < 10) return false;
  bool digit = false, alpha = false;
  for (const char c : v) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      alpha = true;
    } else {
      return false;
    }
  }
  if (!digit || !alpha) return false;
  return std::none_of(keys.begin(), keys.end(), [&](const std::string& k) { return k.find(v) != std::string::npos; });
}

void CheckDiagnostics(const Json& doc, const std::vector<Diagnostic>& diags, std::size_t counted) {
  FUZZ_CHECK(diags.size() == counted, "SchemaReader counted %zu errors but recorded %zu", counted, diags.size());
  static const std::set<std::string> kKinds = {"type", "unknown-field", "missing-field", "range", "empty"};
  for (const Diagnostic& d : diags) {
    FUZZ_CHECK(kKinds.count(d.kind) == 1, "unknown diagnostic kind '%s'", d.kind.c_str());
    FUZZ_CHECK(d.pointer.empty() || d.pointer[0] == '/', "malformed pointer '%s'", d.pointer.c_str());
    FUZZ_CHECK(doc.contains(Json::json_pointer(d.pointer)), "diagnostic pointer '%s' (%s) is not in the document",
               d.pointer.c_str(), d.kind.c_str());
  }
}

// The schema of POST /v1/resolve, read by the server's own reader.
std::vector<SecretRef> ReadResolveBody(const Json& body) {
  std::vector<Diagnostic> problems;
  SchemaReader reader(&problems);
  http::ResolveRequest req;
  (void)http::ReadResolveRequest(body, 100, reader, &req);
  CheckDiagnostics(body, problems, reader.error_count());
  return std::move(req.refs);
}

// The other accessors, on whatever object the document is (or holds at "/o").
void ReadOtherTypes(const Json& doc) {
  std::vector<Diagnostic> problems;
  SchemaReader reader(&problems);
  if (reader.Object(doc, "", {"fabric", "secrets", "n", "b", "list", "o"})) {
    (void)reader.Integer(doc, "", "n", false, -5, 1000);
    (void)reader.Bool(doc, "", "b", false);
    (void)reader.StringArray(doc, "", "list", false, false);
    (void)reader.StringArray(doc, "", "secrets", false, true);
    if (auto it = doc.find("o"); it != doc.end() && reader.Object(*it, "/o", {"n"})) {
      (void)reader.Integer(*it, "/o", "n", true, 0, 0);
    }
  }
  CheckDiagnostics(doc, problems, reader.error_count());
}

void CheckRef(const SecretRef& ref) {
  for (const ProviderType type : kAllProviderTypes) {
    const Status s = ValidateSecretRef(type, ref.scope, ref.key);
    const Status scope = ValidateScope(type, ref.scope);
    if (!s.ok()) {
      FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument, "ValidateSecretRef: %s", s.ToString().c_str());
      continue;
    }
    FUZZ_CHECK(scope.ok(), "a valid %s ref has an invalid scope: %s", std::string(ProviderTypeName(type)).c_str(),
               scope.ToString().c_str());
    if (!ref.provider.empty() && ref.provider.find(':') == std::string::npos) {
      const auto parsed = ParseSecretRef(FormatSecretRef(ref));
      FUZZ_CHECK(parsed.has_value() && *parsed == ref, "a valid %s ref does not survive Format/Parse",
                 std::string(ProviderTypeName(type)).c_str());
    }
  }
}

void CheckPrintable(std::string_view text) {
  const std::string p = Printable(text);
  FUZZ_CHECK(IsValidUtf8(p) && !HasControlCharacter(p), "Printable left unprintable bytes");
  FUZZ_CHECK(IsValidUtf8(text) == (FirstInvalidUtf8(text) == text.size()), "IsValidUtf8 and FirstInvalidUtf8 disagree");
}

// The server reads resolve bodies through a fast path (no DOM) and falls back to ParseJson and
// ReadResolveRequest for anything else. They must agree: the fast path accepts exactly the bodies the
// general way reads without an error, with the same result.
void CheckResolveFastPath(std::string_view text) {
  http::ResolveRequest fast;
  const bool fast_ok = http::ReadWellFormedResolveRequest(text, 100, &fast);
  http::ResolveRequest general;
  bool general_ok = false;
  if (Result<Json> doc = ParseJson(text, http::kResolveBodyLimits); doc.has_value()) {
    std::vector<Diagnostic> problems;
    SchemaReader reader(&problems);
    general_ok = http::ReadResolveRequest(*doc, 100, reader, &general).ok() && problems.empty();
  }
  FUZZ_CHECK(fast_ok == general_ok, "the resolve fast path %s a body the general reader %s",
             fast_ok ? "accepted" : "refused", general_ok ? "accepts" : "refuses");
  if (fast_ok) {
    FUZZ_CHECK(fast.fabric == general.fabric && fast.refs == general.refs, "the resolve fast path read another request");
  } else {
    FUZZ_CHECK(fast.fabric.empty() && fast.refs.empty(), "the refused fast path left a partial request");
  }
}

}  // namespace
}  // namespace keyward

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keyward;
  if (size == 0) return 0;
  JsonLimits limits;
  limits.allow_comments = (data[0] & 1) != 0;
  limits.max_depth = 1u + (data[0] >> 1) % 64u;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  CheckResolveFastPath(text);
  Result<Json> doc = ParseJson(text, limits);

  Oracle oracle;
  const bool syntax_ok = Json::sax_parse(text.begin(), text.end(), &oracle, Json::input_format_t::json,
                                         /*strict=*/true, limits.allow_comments);
  const bool expected = syntax_ok && !oracle.duplicate && oracle.max_depth <= limits.max_depth;
  FUZZ_CHECK(doc.has_value() == expected, "ParseJson %s a document the oracle %s (syntax %d, duplicate %d, depth %zu/%zu)",
             doc.has_value() ? "accepted" : "refused", expected ? "accepts" : "refuses", syntax_ok, oracle.duplicate,
             oracle.max_depth, limits.max_depth);

  if (!doc.has_value()) {
    FUZZ_CHECK(doc.error().code() == StatusCode::kInvalidArgument, "ParseJson: %s", doc.error().ToString().c_str());
    const std::string& message = doc.error().message();
    for (const std::string& v : oracle.values) {
      FUZZ_CHECK(!LooksQuotable(v, oracle.all_keys) || message.find(v) == std::string::npos,
                 "the error message quotes a string value of the document: %s", message.c_str());
    }
    CheckPrintable(text);
    return 0;
  }

  const std::string dumped = doc->dump();
  Result<Json> again = ParseJson(dumped, JsonLimits{.max_depth = limits.max_depth});
  FUZZ_CHECK(again.has_value() && *again == *doc, "a parsed document does not survive dump and parse: %s",
             again.has_value() ? "another value" : again.error().ToString().c_str());

  for (const SecretRef& ref : ReadResolveBody(*doc)) {
    CheckRef(ref);
    CheckPrintable(ref.scope);
  }
  ReadOtherTypes(*doc);
  return 0;
}
