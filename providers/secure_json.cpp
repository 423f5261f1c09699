#include "providers/secure_json.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/secret_value.h"

namespace keyward::providers {

void WriteJsonString(std::string_view s, SecureString* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          *out += "\\u00";
          *out += kHex[c >> 4];
          *out += kHex[c & 0x0F];
        } else {
          *out += ch;
        }
    }
  }
  *out += '"';
}

namespace {

template <typename T>
void WriteNumber(T v, SecureString* out) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, ec == std::errc() ? static_cast<std::size_t>(end - buf) : 0);
  WipeMemory(buf, sizeof buf);
}

}  // namespace

void WriteJson(const Json& value, SecureString* out) {
  switch (value.type()) {
    case Json::value_t::null: *out += "null"; return;
    case Json::value_t::boolean: *out += value.get<bool>() ? "true" : "false"; return;
    case Json::value_t::number_integer: WriteNumber(value.get<std::int64_t>(), out); return;
    case Json::value_t::number_unsigned: WriteNumber(value.get<std::uint64_t>(), out); return;
    case Json::value_t::number_float: {
      const double d = value.get<double>();
      if (!std::isfinite(d)) {
        *out += "null";  // as nlohmann writes non-finite numbers
        return;
      }
      const std::size_t start = out->size();
      WriteNumber(d, out);
      // Keep a float a float for the next reader: 2.0, not 2.
      if (out->view().substr(start).find_first_of(".e") == std::string_view::npos) *out += ".0";
      return;
    }
    case Json::value_t::string: WriteJsonString(value.get_ref<const std::string&>(), out); return;
    case Json::value_t::binary: {
      // Only a number kept as written (kSecretMap); JSON has no other binary values.
      const auto& b = value.get_binary();
      if (b.has_subtype() && b.subtype() == kNumberTextSubtype && !b.empty()) {
        out->append(reinterpret_cast<const char*>(b.data()), b.size());
      } else {
        *out += "null";
      }
      return;
    }
    case Json::value_t::array: {
      *out += '[';
      bool first = true;
      for (const Json& e : value) {
        if (!first) *out += ',';
        first = false;
        WriteJson(e, out);
      }
      *out += ']';
      return;
    }
    case Json::value_t::object: {
      *out += '{';
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (!first) *out += ',';
        first = false;
        WriteJsonString(it.key(), out);
        *out += ':';
        WriteJson(it.value(), out);
      }
      *out += '}';
      return;
    }
    case Json::value_t::discarded: *out += "null"; return;
  }
}

SecureString ToJson(const Json& value) {
  SecureString out;
  WriteJson(value, &out);
  return out;
}

void WipeJsonStrings(Json* value) {
  if (value->is_string()) {
    std::string& s = value->get_ref<std::string&>();
    WipeMemory(s.data(), s.capacity());
    s.clear();
  } else if (value->is_binary()) {
    auto& b = value->get_binary();
    WipeMemory(b.data(), b.capacity());
    b.clear();
  } else if (value->is_structured()) {
    for (Json& e : *value) WipeJsonStrings(&e);
  }
}

}  // namespace keyward::providers
