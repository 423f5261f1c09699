#include "core/json.h"

#include <unordered_set>

namespace keyward {
namespace {

// A SAX handler that builds the DOM like nlohmann's own, and in addition rejects duplicate keys and
// excessive depth while tracking the JSON pointer of the current position for error messages.
class StrictDomBuilder {
 public:
  explicit StrictDomBuilder(const JsonLimits& limits) : limits_(limits) {}

  bool null() { return Value(Json(nullptr)); }
  bool boolean(bool v) { return Value(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return Value(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return Value(Json(v)); }
  bool number_float(Json::number_float_t v, const std::string& text) {
    if (!limits_.keep_number_text) return Value(Json(v));
    return Value(Json::binary(Json::binary_t::container_type(text.begin(), text.end()), kNumberTextSubtype));
  }
  bool string(std::string& v) { return Value(Json(std::move(v))); }
  bool binary(Json::binary_t&) { return Fail("binary values are not JSON"); }

  bool start_object(std::size_t) { return Open(Json::object(), false); }
  bool start_array(std::size_t) { return Open(Json::array(), true); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }

  bool key(std::string& k) {
    Frame& f = frames_.back();
    if (!f.Insert(k)) {
      if (!limits_.name_keys) return Fail("a duplicate key");
      const std::string at = Pointer(frames_.size() - 1);
      return Fail("duplicate key '" + k + "' in the " + (at.empty() ? std::string("top-level object") : "object at " + at));
    }
    f.key = k;
    slot_ = &(*f.value)[k];
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) {
    // nlohmann's message quotes the offending token ("last read: '...'"); that may be part of a secret
    // value in a request body, so keep only the description of what went wrong.
    std::string what = ex.what();
    if (auto p = what.find("; last read"); p != std::string::npos) what.erase(p);
    // Quoted grammar tokens stay ("unexpected '}'; expected '[', '{', or a literal"); any other quote
    // may hold a value ("number overflow parsing '1e99999'"): nothing from such a quote on.
    for (std::size_t p = what.find('\''); p != std::string::npos; p = what.find('\'', p)) {
      const bool grammar = p + 2 < what.size() && what[p + 2] == '\'' &&
                           std::string_view("[]{}:,").find(what[p + 1]) != std::string_view::npos;
      if (!grammar) {
        what.erase(p);
        while (!what.empty() && (what.back() == ' ' || what.back() == ':')) what.pop_back();
        break;
      }
      p += 3;
    }
    if (auto p = what.find(": syntax error"); p != std::string::npos) what.erase(0, p + 2);
    if (what.rfind("[json.exception", 0) == 0) {
      if (auto p = what.find("] "); p != std::string::npos) what.erase(0, p + 2);
    }
    error_position_ = position;
    if (error_.empty()) error_ = what;
    return false;
  }

  Json TakeRoot() { return std::move(root_); }
  const std::string& error() const { return error_; }
  std::size_t error_position() const { return error_position_; }
  bool failed_by_us() const { return failed_by_us_; }

  std::string Pointer(std::size_t depth) const {
    std::string p;
    for (std::size_t i = 0; i < depth && i < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      if (f.is_array) {
        p = JsonPointerJoin(p, f.count);
      } else if (!f.key.empty() || f.count > 0) {
        p = JsonPointerJoin(p, f.key);
      }
    }
    return p;
  }
  std::string CurrentPointer() const { return Pointer(frames_.size()); }

 private:
  struct Frame {
    Json* value = nullptr;
    bool is_array = false;
    std::size_t count = 0;  // elements completed (arrays) or keys seen (objects)
    std::string key;
    std::vector<std::string> small_keys;
    std::unordered_set<std::string> many_keys;

    bool Insert(const std::string& k) {
      ++count;
      if (!many_keys.empty()) return many_keys.insert(k).second;
      for (const auto& s : small_keys) {
        if (s == k) return false;
      }
      if (small_keys.size() < 16) {
        small_keys.push_back(k);
        return true;
      }
      many_keys.insert(small_keys.begin(), small_keys.end());
      small_keys.clear();
      return many_keys.insert(k).second;
    }
  };

  bool Fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
    failed_by_us_ = true;
    return false;
  }

  Json* Place(Json&& v) {
    if (frames_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Frame& f = frames_.back();
    if (f.is_array) {
      f.value->push_back(std::move(v));
      return &f.value->back();
    }
    *slot_ = std::move(v);
    return slot_;
  }

  bool Value(Json&& v) {
    Place(std::move(v));
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().count;
    return true;
  }

  bool Open(Json&& container, bool is_array) {
    if (frames_.size() >= limits_.max_depth) {
      return Fail("nesting deeper than " + std::to_string(limits_.max_depth) + " levels" +
                  (limits_.name_keys ? " at " + CurrentPointer() : std::string()));
    }
    Json* p = Place(std::move(container));
    Frame f;
    f.value = p;
    f.is_array = is_array;
    frames_.push_back(std::move(f));
    return true;
  }

  bool Close() {
    frames_.pop_back();
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().count;
    return true;
  }

  const JsonLimits& limits_;
  Json root_;
  Json* slot_ = nullptr;
  std::vector<Frame> frames_;
  std::string error_;
  std::size_t error_position_ = 0;
  bool failed_by_us_ = false;
};

std::string LineColumn(std::string_view text, std::size_t position) {
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < position && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

}  // namespace

Result<Json> ParseJson(std::string_view text, const JsonLimits& limits) {
  StrictDomBuilder builder(limits);
  const bool ok = Json::sax_parse(text.begin(), text.end(), &builder, nlohmann::json::input_format_t::json,
                                  /*strict=*/true, limits.allow_comments);
  if (ok) return builder.TakeRoot();
  if (builder.failed_by_us()) return Status::InvalidArgument("invalid JSON: " + builder.error());
  std::string where = LineColumn(text, builder.error_position() == 0 ? 0 : builder.error_position() - 1);
  std::string ptr = limits.name_keys ? builder.CurrentPointer() : std::string();
  std::string msg = "invalid JSON at " + where;
  if (!ptr.empty()) msg += " (inside " + ptr + ")";
  msg += ": " + builder.error();
  return Status::InvalidArgument(std::move(msg));
}

std::string JsonPointerEscape(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (const char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string JsonPointerJoin(std::string_view base, std::string_view token) {
  std::string out(base);
  out += '/';
  out += JsonPointerEscape(token);
  return out;
}

std::string JsonPointerJoin(std::string_view base, std::size_t index) {
  std::string out(base);
  out += '/';
  out += std::to_string(index);
  return out;
}

std::string Diagnostic::ToString() const {
  std::string out = severity == Severity::kError ? "error: " : "warning: ";
  out += pointer.empty() ? std::string("(document)") : pointer;
  out += ": ";
  out += message;
  return out;
}

std::string_view JsonTypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a number";
    case Json::value_t::binary:
    case Json::value_t::discarded: break;
  }
  return "an unsupported value";
}

std::string DescribeJsonValue(const Json& value) {
  if (value.is_object() || value.is_array()) return std::string(JsonTypeName(value));
  std::string s = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

void SchemaReader::Error(std::string pointer, std::string kind, std::string message) {
  ++errors_;
  out_->push_back(Diagnostic{Diagnostic::Severity::kError, std::move(pointer), std::move(kind), std::move(message)});
}

bool SchemaReader::Object(const Json& value, const std::string& pointer,
                          std::initializer_list<std::string_view> known) {
  if (!value.is_object()) {
    Error(pointer, "type", "expected an object, got " + std::string(JsonTypeName(value)));
    return false;
  }
  for (const auto& [name, member] : value.items()) {
    bool found = false;
    for (const std::string_view k : known) found = found || (k == name);
    if (!found) {
      std::string expected;
      for (const std::string_view k : known) {
        if (!expected.empty()) expected += ", ";
        expected += k;
      }
      Error(JsonPointerJoin(pointer, name), "unknown-field",
            "unknown field '" + name + "' (expected one of: " + expected + ")");
    }
  }
  return true;
}

namespace {
const Json* Member(const Json& obj, std::string_view name) {
  auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}
}  // namespace

std::optional<std::string> SchemaReader::String(const Json& obj, const std::string& pointer,
                                                std::string_view name, bool required) {
  const Json* m = Member(obj, name);
  if (m == nullptr) {
    if (required) Error(pointer, "missing-field", "missing required field '" + std::string(name) + "' (a string)");
    return std::nullopt;
  }
  if (!m->is_string()) {
    Error(JsonPointerJoin(pointer, name), "type", "expected a string, got " + std::string(JsonTypeName(*m)));
    return std::nullopt;
  }
  return m->get<std::string>();
}

std::optional<bool> SchemaReader::Bool(const Json& obj, const std::string& pointer, std::string_view name,
                                       bool required) {
  const Json* m = Member(obj, name);
  if (m == nullptr) {
    if (required) Error(pointer, "missing-field", "missing required field '" + std::string(name) + "' (a boolean)");
    return std::nullopt;
  }
  if (!m->is_boolean()) {
    Error(JsonPointerJoin(pointer, name), "type",
          "expected true or false, got " + std::string(JsonTypeName(*m)));
    return std::nullopt;
  }
  return m->get<bool>();
}

std::optional<std::int64_t> SchemaReader::Integer(const Json& obj, const std::string& pointer,
                                                  std::string_view name, bool required, std::int64_t min,
                                                  std::int64_t max) {
  const Json* m = Member(obj, name);
  if (m == nullptr) {
    if (required) Error(pointer, "missing-field", "missing required field '" + std::string(name) + "' (an integer)");
    return std::nullopt;
  }
  const std::string ptr = JsonPointerJoin(pointer, name);
  if (!m->is_number_integer()) {
    Error(ptr, "type", "expected an integer, got " + std::string(JsonTypeName(*m)));
    return std::nullopt;
  }
  if (m->is_number_unsigned() && m->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    Error(ptr, "range", "expected an integer from " + std::to_string(min) + " to " + std::to_string(max));
    return std::nullopt;
  }
  const auto v = m->get<std::int64_t>();
  if (v < min || v > max) {
    Error(ptr, "range", "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                            ", got " + std::to_string(v));
    return std::nullopt;
  }
  return v;
}

const Json* SchemaReader::Array(const Json& obj, const std::string& pointer, std::string_view name,
                                bool required, bool allow_empty) {
  const Json* m = Member(obj, name);
  if (m == nullptr) {
    if (required) Error(pointer, "missing-field", "missing required field '" + std::string(name) + "' (an array)");
    return nullptr;
  }
  const std::string ptr = JsonPointerJoin(pointer, name);
  if (!m->is_array()) {
    Error(ptr, "type", "expected an array, got " + std::string(JsonTypeName(*m)));
    return nullptr;
  }
  if (!allow_empty && m->empty()) {
    Error(ptr, "empty",
          "expected at least one element" + (empty_array_hint_.empty() ? std::string() : " (" + empty_array_hint_ + ")"));
    return nullptr;
  }
  return m;
}

std::optional<std::vector<std::string>> SchemaReader::StringArray(const Json& obj, const std::string& pointer,
                                                                  std::string_view name, bool required,
                                                                  bool allow_empty) {
  const Json* arr = Array(obj, pointer, name, required, allow_empty);
  if (arr == nullptr) return std::nullopt;
  const std::string ptr = JsonPointerJoin(pointer, name);
  std::vector<std::string> out;
  out.reserve(arr->size());
  bool all_ok = true;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const Json& e = (*arr)[i];
    if (!e.is_string()) {
      Error(JsonPointerJoin(ptr, i), "type", "expected a string, got " + std::string(JsonTypeName(e)));
      all_ok = false;
      continue;
    }
    out.push_back(e.get<std::string>());
  }
  if (!all_ok) return std::nullopt;
  return out;
}

bool BoolMember(const Json& object, const char* key, bool fallback) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

std::int64_t IntMember(const Json& object, const char* key, std::int64_t fallback) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

std::string StringMember(const Json& object, const char* key, std::string fallback) {
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace keyward
