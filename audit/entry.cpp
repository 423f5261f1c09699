#include "audit/entry.h"

#include <array>
#include <charconv>
#include <ctime>

#include "core/utf8.h"

namespace keyward::audit {
namespace {

// The string members in canonical (bytewise) order, with the field each one reads.
struct Member {
  std::string_view name;
  std::string AuditRecord::*field;
};
constexpr std::array<Member, 13> kStringMembers = {{
    {"action", &AuditRecord::action},
    {"decision", &AuditRecord::decision},
    {"detail", &AuditRecord::detail},
    {"fabric", &AuditRecord::fabric},
    {"key", &AuditRecord::key},
    {"peer", &AuditRecord::peer},
    {"policy", &AuditRecord::policy},
    {"principal", &AuditRecord::principal},
    {"provider", &AuditRecord::provider},
    {"provider_type", &AuditRecord::provider_type},
    {"reason", &AuditRecord::reason},
    {"request_id", &AuditRecord::request_id},
    {"scope", &AuditRecord::scope},
}};  // then "seq" (integer) and "time" (string)

void AppendString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.substr(run, i - run));
    run = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\t': out->append("\\t"); break;
      case '\n': out->append("\\n"); break;
      case '\f': out->append("\\f"); break;
      case '\r': out->append("\\r"); break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0x0F]);
    }
  }
  out->append(s.substr(run));
  out->push_back('"');
}

void AppendMember(std::string_view name, std::string_view value, std::string* out) {
  out->push_back('"');
  out->append(name);
  out->append("\":");
  AppendString(value, out);
}

}  // namespace

bool operator==(const Entry& a, const Entry& b) {
  if (a.seq != b.seq || a.time != b.time) return false;
  for (const Member& m : kStringMembers) {
    if (a.record.*m.field != b.record.*m.field) return false;
  }
  return true;
}

bool IsWellFormedTime(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS.ffffffZ
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
  if (t.size() != kShape.size()) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (kShape[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != kShape[i]) return false;
  }
  auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (t[i] - '0');
    return v;
  };
  const int year = num(0, 4), month = num(5, 2), day = num(8, 2), hour = num(11, 2), minute = num(14, 2),
            second = num(17, 2);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap_year = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDays[month - 1] + (month == 2 && leap_year ? 1 : 0)) return false;
  // A leap second (RFC 3339 §5.7) is the last second of a day: 23:59:60.
  return second < 60 || (hour == 23 && minute == 59);
}

std::string FormatTime(std::int64_t unix_micros) {
  std::int64_t secs = unix_micros / 1000000;
  std::int64_t micros = unix_micros % 1000000;
  if (micros < 0) {
    micros += 1000000;
    secs -= 1;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros));
  return buf;
}

Status ValidateRecord(const AuditRecord& record) {
  for (const Member& m : kStringMembers) {
    const std::string& v = record.*m.field;
    if (const std::size_t bad = FirstInvalidUtf8(v); bad != v.size()) {
      // The content is not echoed: it may be anything, and it is not ours to print.
      return Status::InvalidArgument("audit field '" + std::string(m.name) + "' is not valid UTF-8 (byte " +
                                     std::to_string(bad) + "); nothing was written");
    }
  }
  return Status();
}

Status ValidateEntry(const Entry& e) {
  if (e.seq < 1) return Status::InvalidArgument("audit entry seq must be >= 1");
  if (!IsWellFormedTime(e.time)) return Status::InvalidArgument("audit entry time is not RFC 3339 UTC with microseconds");
  return ValidateRecord(e.record);
}

void EncodeRecordPrefix(const AuditRecord& record, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const Member& m : kStringMembers) {
    if (!first) out->push_back(',');
    first = false;
    AppendMember(m.name, record.*m.field, out);
  }
}

void AppendSeqAndTime(std::int64_t seq, std::string_view time, std::string* out) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, seq);
  out->append(",\"seq\":");
  out->append(digits, static_cast<std::size_t>(end - digits));
  out->push_back(',');
  AppendMember("time", time, out);
  out->push_back('}');
}

void EncodeEntry(const Entry& e, std::string* out) {
  EncodeRecordPrefix(e.record, out);
  AppendSeqAndTime(e.seq, e.time, out);
}

Result<std::string> EncodeEntry(const Entry& e) {
  KEYWARD_RETURN_IF_ERROR(ValidateEntry(e));
  std::string out;
  out.reserve(512);
  EncodeEntry(e, &out);
  return out;
}

namespace {

// A strict reader of the canonical encoding: it accepts exactly the bytes EncodeEntry produces for some
// valid entry, and nothing else (no whitespace, no other escapes, members in order, no leading zeros).
class CanonicalScanner {
 public:
  explicit CanonicalScanner(std::string_view in) : in_(in) {}

  // Scans the whole entry. When `out` is not null, the decoded fields are stored there.
  Status Scan(Entry* out, std::int64_t* seq, std::string_view* time) {
    if (!Literal("{")) return Fail("does not start with '{'");
    bool first = true;
    for (const Member& m : kStringMembers) {
      if (!first && !Literal(",")) return Fail("expected ',' before member '" + std::string(m.name) + "'");
      first = false;
      if (!MemberName(m.name)) return Fail("expected member '" + std::string(m.name) + "' next");
      KEYWARD_RETURN_IF_ERROR(String(out ? &(out->record.*m.field) : nullptr, m.name));
    }
    if (!Literal(",") || !MemberName("seq")) return Fail("expected member 'seq' next");
    KEYWARD_RETURN_IF_ERROR(Integer(seq));
    if (!Literal(",") || !MemberName("time")) return Fail("expected member 'time' next");
    const std::size_t time_start = pos_ + 1;
    KEYWARD_RETURN_IF_ERROR(String(out ? &out->time : nullptr, "time"));
    *time = in_.substr(time_start, pos_ - 1 - time_start);  // no escapes are possible in a valid time
    if (!Literal("}")) return Fail("expected '}' after member 'time'");
    if (pos_ != in_.size()) return Fail("has bytes after the closing '}'");
    if (!IsWellFormedTime(*time)) return Fail("member 'time' is not RFC 3339 UTC with microseconds");
    if (out != nullptr) out->seq = *seq;
    return Status();
  }

 private:
  Status Fail(const std::string& what) const {
    return Status::InvalidArgument("entry is not canonical keyward-audit/1 at byte " + std::to_string(pos_) + ": " + what);
  }
  bool Literal(std::string_view lit) {
    if (in_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }
  bool MemberName(std::string_view name) {
    if (pos_ + name.size() + 3 > in_.size() || in_[pos_] != '"' || in_.substr(pos_ + 1, name.size()) != name ||
        in_[pos_ + 1 + name.size()] != '"' || in_[pos_ + 2 + name.size()] != ':') {
      return false;
    }
    pos_ += name.size() + 3;
    return true;
  }
  Status Integer(std::int64_t* v) {
    const std::size_t start = pos_;
    while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') ++pos_;
    const std::string_view digits = in_.substr(start, pos_ - start);
    // Every seq the writer accepts (1 .. 2^63-1, SQLite's INTEGER) and nothing else.
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || digits[0] == '0' || ec != std::errc() || end != digits.data() + digits.size()) {
      return Fail("member 'seq' is not an integer from 1 to 9223372036854775807");
    }
    *v = n;
    return Status();
  }
  Status String(std::string* out, std::string_view name) {
    if (pos_ >= in_.size() || in_[pos_] != '"') return Fail("member '" + std::string(name) + "' is not a string");
    ++pos_;
    if (out != nullptr) out->clear();
    std::size_t run = pos_;
    while (pos_ < in_.size()) {
      const auto c = static_cast<unsigned char>(in_[pos_]);
      if (c == '"') {
        if (out != nullptr) out->append(in_.substr(run, pos_ - run));
        ++pos_;
        return Status();
      }
      if (c < 0x20) return Fail("raw control character in member '" + std::string(name) + "'");
      if (c < 0x80 && c != '\\') {
        ++pos_;
        continue;
      }
      if (c >= 0x80) {
        const std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || pos_ + len > in_.size() || !IsValidUtf8(in_.substr(pos_, len))) {
          return Fail("ill-formed UTF-8 in member '" + std::string(name) + "'");
        }
        pos_ += len;
        continue;
      }
      // An escape: only the ones the encoder writes.
      if (out != nullptr) out->append(in_.substr(run, pos_ - run));
      if (pos_ + 1 >= in_.size()) return Fail("truncated escape");
      const char e = in_[pos_ + 1];
      char decoded = 0;
      std::size_t consumed = 2;
      switch (e) {
        case '"': decoded = '"'; break;
        case '\\': decoded = '\\'; break;
        case 'b': decoded = '\b'; break;
        case 't': decoded = '\t'; break;
        case 'n': decoded = '\n'; break;
        case 'f': decoded = '\f'; break;
        case 'r': decoded = '\r'; break;
        case 'u': {
          static constexpr std::string_view kHex = "0123456789abcdef";
          if (pos_ + 6 > in_.size() || in_.substr(pos_ + 2, 2) != "00" || kHex.find(in_[pos_ + 4]) > 1 ||
              kHex.find(in_[pos_ + 5]) == std::string_view::npos) {
            return Fail("non-canonical \\u escape in member '" + std::string(name) + "'");
          }
          const auto v = static_cast<unsigned char>(kHex.find(in_[pos_ + 4]) * 16 + kHex.find(in_[pos_ + 5]));
          if (v == '\b' || v == '\t' || v == '\n' || v == '\f' || v == '\r') {
            return Fail("non-canonical \\u escape in member '" + std::string(name) + "'");
          }
          decoded = static_cast<char>(v);
          consumed = 6;
          break;
        }
        default: return Fail("non-canonical escape in member '" + std::string(name) + "'");
      }
      if (out != nullptr) out->push_back(decoded);
      pos_ += consumed;
      run = pos_;
    }
    return Fail("unterminated string in member '" + std::string(name) + "'");
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace

Status ScanEntry(std::string_view bytes, std::int64_t* seq, std::string_view* time) {
  return CanonicalScanner(bytes).Scan(nullptr, seq, time);
}

Result<Entry> DecodeEntry(std::string_view bytes) {
  Entry e;
  std::int64_t seq = 0;
  std::string_view time;
  KEYWARD_RETURN_IF_ERROR(CanonicalScanner(bytes).Scan(&e, &seq, &time));
  return e;
}

}  // namespace keyward::audit
