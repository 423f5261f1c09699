// Fuzzes the audit entry codec (audit/entry.h): the strict scanner every stored entry goes through in
// the verifier, and the canonical encoder the writer uses.
//
// Invariants:
//   - Raw bytes: DecodeEntry accepts x  =>  the entry is valid and EncodeEntry(DecodeEntry(x)) == x (one
//     encoding per entry); ScanEntry accepts exactly what DecodeEntry accepts and yields the same seq and
//     time; rejections are InvalidArgument with a short, printable message (they never quote the entry).
//   - Entries built from the input's bytes: ValidateEntry accepts  =>  the encoding decodes to the same
//     entry, and the producer/writer split (EncodeRecordPrefix + AppendSeqAndTime) gives the same bytes;
//     FormatTime yields well-formed times.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "audit/entry.h"
#include "tests/fuzz/fuzz_check.h"

namespace keyward::audit {
namespace {

void CheckRawBytes(std::string_view bytes) {
  Result<Entry> decoded = DecodeEntry(bytes);
  std::int64_t seq = 0;
  std::string_view time;
  const Status scanned = ScanEntry(bytes, &seq, &time);
  FUZZ_CHECK(decoded.has_value() == scanned.ok(), "DecodeEntry and ScanEntry disagree: %s / %s",
             decoded.has_value() ? "ok" : decoded.error().ToString().c_str(), scanned.ToString().c_str());
  if (!decoded.has_value()) {
    FUZZ_CHECK(decoded.error().code() == StatusCode::kInvalidArgument, "%s", decoded.error().ToString().c_str());
    // The message names an offset and what was expected; it never carries the entry's content, so it is
    // short whatever the entry, and printable.
    const std::string& m = decoded.error().message();
    FUZZ_CHECK(m.size() <= 160, "a %zu-byte message: %s", m.size(), m.c_str());
    for (const char c : m) FUZZ_CHECK(c >= 0x20 && c < 0x7f, "an unprintable message: %s", m.c_str());
    return;
  }
  FUZZ_CHECK(seq == decoded->seq && time == decoded->time, "ScanEntry yields another seq or time than DecodeEntry");
  FUZZ_CHECK(ValidateEntry(*decoded).ok(), "a decoded entry does not validate: %s", ValidateEntry(*decoded).ToString().c_str());
  Result<std::string> encoded = EncodeEntry(*decoded);
  FUZZ_CHECK(encoded.has_value() && *encoded == bytes, "encode(decode(x)) != x:\n  x   = %.*s\n  got = %s",
             static_cast<int>(bytes.size()), bytes.data(), encoded.has_value() ? encoded->c_str() : "(error)");
}

void CheckBuiltEntry(FuzzedDataProvider& in) {
  Entry e;
  e.seq = in.ConsumeIntegralInRange<std::int64_t>(-2, INT64_MAX);
  const bool real_time = in.ConsumeBool();
  if (real_time) {
    // 1970 .. 9999
    e.time = FormatTime(in.ConsumeIntegralInRange<std::int64_t>(0, 253402300799999999));
    FUZZ_CHECK(IsWellFormedTime(e.time), "FormatTime gave '%s'", e.time.c_str());
  } else {
    e.time = in.ConsumeRandomLengthString(32);
  }
  for (std::string* f : {&e.record.action, &e.record.decision, &e.record.detail, &e.record.fabric, &e.record.key,
                         &e.record.peer, &e.record.policy, &e.record.principal, &e.record.provider,
                         &e.record.provider_type, &e.record.reason, &e.record.request_id, &e.record.scope}) {
    *f = in.ConsumeRandomLengthString(64);
  }
  const Status valid = ValidateEntry(e);
  Result<std::string> encoded = EncodeEntry(e);
  FUZZ_CHECK(valid.ok() == encoded.has_value(), "EncodeEntry and ValidateEntry disagree");
  if (!valid.ok()) return;
  Result<Entry> decoded = DecodeEntry(*encoded);
  FUZZ_CHECK(decoded.has_value(), "the encoding of a valid entry does not decode: %s\n  %s",
             decoded.error().ToString().c_str(), encoded->c_str());
  FUZZ_CHECK(*decoded == e, "an entry does not survive encode and decode: %s", encoded->c_str());
  std::string split;
  EncodeRecordPrefix(e.record, &split);
  AppendSeqAndTime(e.seq, e.time, &split);
  FUZZ_CHECK(split == *encoded, "EncodeRecordPrefix + AppendSeqAndTime differ from EncodeEntry");
}

}  // namespace
}  // namespace keyward::audit

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  keyward::audit::CheckRawBytes(std::string_view(reinterpret_cast<const char*>(data), size));
  FuzzedDataProvider in(data, size);
  keyward::audit::CheckBuiltEntry(in);
  return 0;
}
