// Audit entries and their canonical encoding — the exact bytes that are hashed (docs/audit-format.md).
//
// An entry is a JSON object with exactly these members, in this (bytewise-sorted) order:
//   action decision detail fabric key peer policy principal provider provider_type reason request_id
//   scope seq time
// `seq` is an integer >= 1 in decimal without leading zeros; all others are strings. Strings are UTF-8
// with only `"`, `\` and U+0000..U+001F escaped (\b \t \n \f \r, else \u00XX in lower-case hex); no
// whitespace anywhere. This is the RFC 8785 (JCS) serialisation of such an object.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/audit_sink.h"
#include "core/result.h"

namespace keyward::audit {

inline constexpr std::string_view kFormat = "keyward-audit/1";

struct Entry {
  std::int64_t seq = 0;
  std::string time;  // RFC 3339 UTC with microseconds: "2026-12-04T20:00:00.123456Z"
  AuditRecord record;

  friend bool operator==(const Entry& a, const Entry& b);
};

// OK when every field of `record` is valid UTF-8. InvalidArgument names the field, never its content.
Status ValidateRecord(const AuditRecord& record);

// OK when every field can be recorded: valid UTF-8, seq >= 1, time well-formed. InvalidArgument names
// the offending field and never echoes its content.
Status ValidateEntry(const Entry& entry);

// Appends the canonical encoding of `entry` to `*out`. REQUIRES: ValidateEntry(entry).ok().
void EncodeEntry(const Entry& entry, std::string* out);
// The same in two steps, for the writer: `seq` and `time` are the last two members, so a producer can
// encode everything before them and the writer completes it once the seq is known.
// EncodeRecordPrefix appends `{"action":...,"scope":"..."` (REQUIRES: ValidateRecord(record).ok());
// AppendSeqAndTime appends `,"seq":N,"time":"..."}` (REQUIRES: seq >= 1, a well-formed time).
void EncodeRecordPrefix(const AuditRecord& record, std::string* out);
void AppendSeqAndTime(std::int64_t seq, std::string_view time, std::string* out);
Result<std::string> EncodeEntry(const Entry& entry);

// Parses the canonical encoding. Anything else — other JSON with the same meaning included — is
// InvalidArgument, naming the byte offset and what was expected there (never echoing content).
Result<Entry> DecodeEntry(std::string_view bytes);
// DecodeEntry without building the entry: checks the same and yields only seq and time (a view into
// `bytes`). For the verifier's hot loop.
Status ScanEntry(std::string_view bytes, std::int64_t* seq, std::string_view* time);

// "2026-12-04T20:00:00.123456Z" for a time since the Unix epoch in microseconds.
std::string FormatTime(std::int64_t unix_micros);
bool IsWellFormedTime(std::string_view time);

}  // namespace keyward::audit
