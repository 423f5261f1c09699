#include "audit/entry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include <string>

#include "core/testing/status_matchers.h"

namespace keyward::audit {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::IsOkAndHolds;
using ::keyward::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;

Entry Sample() {
  Entry e;
  e.seq = 42;
  e.time = "2026-12-04T20:00:00.123456Z";
  e.record = AuditRecord{"req-1", "pipeline-etl", "emr-etl", "vault", "vault", "secret/data-eng/snowflake",
                         "password", "resolve", "allow", "rule:etl-reads-snowflake", "ab12", "10.0.0.5:51234", ""};
  return e;
}

TEST(EntryTest, CanonicalEncodingIsExact) {
  EXPECT_THAT(EncodeEntry(Sample()),
              IsOkAndHolds(Eq(R"({"action":"resolve","decision":"allow","detail":"","fabric":"emr-etl","key":"password",)"
                              R"("peer":"10.0.0.5:51234","policy":"ab12","principal":"pipeline-etl","provider":"vault",)"
                              R"("provider_type":"vault","reason":"rule:etl-reads-snowflake","request_id":"req-1",)"
                              R"("scope":"secret/data-eng/snowflake","seq":42,"time":"2026-12-04T20:00:00.123456Z"})")));
}

TEST(EntryTest, EscapesOnlyWhatJsonRequires) {
  Entry e = Sample();
  e.record.detail = "q\"b\\s/\b\t\n\f\r\x01\x1f\x7f caf\xC3\xA9 \xF0\x9F\x94\x91";
  auto bytes = EncodeEntry(e);
  ASSERT_THAT(bytes, IsOk());
  EXPECT_THAT(*bytes, HasSubstr(R"("detail":"q\"b\\s/\b\t\n\f\r\u0001\u001f)" "\x7f caf\xC3\xA9 \xF0\x9F\x94\x91\""));
  EXPECT_THAT(DecodeEntry(*bytes), IsOkAndHolds(Eq(e)));
}

TEST(EntryTest, RoundTripsEveryControlCharacter) {
  Entry e = Sample();
  for (int c = 0; c < 0x20; ++c) e.record.key.push_back(static_cast<char>(c));
  auto bytes = EncodeEntry(e);
  ASSERT_THAT(bytes, IsOk());
  EXPECT_THAT(DecodeEntry(*bytes), IsOkAndHolds(Eq(e)));
}

TEST(EntryTest, InvalidUtf8IsRejectedNamingTheFieldNotTheContent) {
  Entry e = Sample();
  e.record.key = "pass\xC3\x28word-SECRETLIKE";
  EXPECT_THAT(EncodeEntry(e), StatusIs(StatusCode::kInvalidArgument, HasSubstr("audit field 'key' is not valid UTF-8")));
  EXPECT_THAT(EncodeEntry(e).error().message(), Not(HasSubstr("SECRETLIKE")));
}

TEST(EntryTest, ValidatesSeqAndTime) {
  Entry e = Sample();
  e.seq = 0;
  EXPECT_THAT(EncodeEntry(e), StatusIs(StatusCode::kInvalidArgument, HasSubstr("seq")));
  e = Sample();
  e.time = "2026-12-04 20:00:00Z";
  EXPECT_THAT(EncodeEntry(e), StatusIs(StatusCode::kInvalidArgument, HasSubstr("time")));
}

// The largest seq (2^63 - 1, 19 digits) is written and read back: the writer and the scanner agree on
// the range (fuzzing found them disagreeing above 18 digits: tests/fuzz/regressions/audit_entry_fuzzer).
TEST(EntryTest, TheLargestSeqSurvivesEncodeAndDecode) {
  Entry e = Sample();
  e.seq = std::numeric_limits<std::int64_t>::max();
  auto encoded = EncodeEntry(e);
  ASSERT_TRUE(encoded.has_value()) << encoded.error().ToString();
  auto decoded = DecodeEntry(*encoded);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  EXPECT_EQ(decoded->seq, std::numeric_limits<std::int64_t>::max());
}

TEST(EntryTest, FormatTime) {
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatTime(1733342400123456), "2024-12-04T20:00:00.123456Z");
  EXPECT_EQ(FormatTime(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_TRUE(IsWellFormedTime(FormatTime(1733342400123456)));
  EXPECT_FALSE(IsWellFormedTime("2024-13-04T20:00:00.123456Z"));
  // Real calendar dates only: another verifier's date parser must agree with this one.
  EXPECT_FALSE(IsWellFormedTime("2026-02-31T12:00:00.000000Z"));
  EXPECT_FALSE(IsWellFormedTime("2026-04-31T12:00:00.000000Z"));
  EXPECT_FALSE(IsWellFormedTime("2026-02-29T12:00:00.000000Z"));
  EXPECT_TRUE(IsWellFormedTime("2024-02-29T12:00:00.000000Z"));   // leap year
  EXPECT_FALSE(IsWellFormedTime("2100-02-29T12:00:00.000000Z"));  // not one: divisible by 100
  EXPECT_TRUE(IsWellFormedTime("2000-02-29T12:00:00.000000Z"));   // one: divisible by 400
  EXPECT_TRUE(IsWellFormedTime("2016-12-31T23:59:60.000000Z"));   // a leap second
  EXPECT_FALSE(IsWellFormedTime("2016-12-31T12:00:60.000000Z"));
  // Every day FormatTime writes is accepted.
  for (std::int64_t day = -800; day < 40000; ++day) {
    ASSERT_TRUE(IsWellFormedTime(FormatTime(day * 86400 * 1000000 + 43200123456))) << FormatTime(day * 86400 * 1000000);
  }
}

struct BadEntry {
  const char* name;
  std::string bytes;
  const char* why;
};
void PrintTo(const BadEntry& b, std::ostream* os) { *os << b.name; }

class NonCanonicalTest : public ::testing::TestWithParam<BadEntry> {};

TEST_P(NonCanonicalTest, IsRejected) {
  EXPECT_THAT(DecodeEntry(GetParam().bytes), StatusIs(StatusCode::kInvalidArgument, HasSubstr(GetParam().why)));
  std::int64_t seq = 0;
  std::string_view time;
  EXPECT_THAT(ScanEntry(GetParam().bytes, &seq, &time), StatusIs(StatusCode::kInvalidArgument));
}

std::string Good() { return *EncodeEntry(Sample()); }
std::string Replace(std::string s, const std::string& from, const std::string& to) {
  s.replace(s.find(from), from.size(), to);
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Table, NonCanonicalTest,
    ::testing::Values(
        BadEntry{"whitespace", Replace(Good(), "{\"action\"", "{ \"action\""), "expected member 'action'"},
        BadEntry{"reordered", Replace(Good(), "\"action\":\"resolve\",\"decision\":\"allow\"",
                                      "\"decision\":\"allow\",\"action\":\"resolve\""),
                 "expected member 'action'"},
        BadEntry{"missing_member", Replace(Good(), ",\"detail\":\"\"", ""), "expected member 'detail'"},
        BadEntry{"extra_member", Replace(Good(), "}", ",\"value\":\"x\"}"), "expected '}'"},
        BadEntry{"escaped_letter", Replace(Good(), "resolve", "\\u0072esolve"), "non-canonical \\u escape"},
        BadEntry{"escaped_slash", Replace(Good(), "secret/data", "secret\\/data"), "non-canonical escape"},
        BadEntry{"upper_hex", Replace(Good(), "\"detail\":\"\"", "\"detail\":\"\\u001F\""), "non-canonical \\u escape"},
        BadEntry{"u_escape_for_newline", Replace(Good(), "\"detail\":\"\"", "\"detail\":\"\\u000a\""), "non-canonical \\u escape"},
        BadEntry{"raw_newline", Replace(Good(), "\"detail\":\"\"", "\"detail\":\"\n\""), "raw control character"},
        BadEntry{"leading_zero", Replace(Good(), "\"seq\":42", "\"seq\":042"), "'seq'"},
        BadEntry{"zero_seq", Replace(Good(), "\"seq\":42", "\"seq\":0"), "'seq'"},
        // One past the largest seq the writer accepts (2^63 - 1).
        BadEntry{"seq_over_int64", Replace(Good(), "\"seq\":42", "\"seq\":9223372036854775808"), "'seq'"},
        BadEntry{"float_seq", Replace(Good(), "\"seq\":42", "\"seq\":42.0"), "expected member 'time'"},
        BadEntry{"string_seq", Replace(Good(), "\"seq\":42", "\"seq\":\"42\""), "'seq'"},
        BadEntry{"bad_time", Replace(Good(), ".123456Z", ".123Z"), "'time'"},
        BadEntry{"bad_utf8", Replace(Good(), "password", "pass\xC3\x28word"), "ill-formed UTF-8"},
        BadEntry{"trailing", Good() + "\n", "after the closing"},
        BadEntry{"truncated", Good().substr(0, 100), "unterminated"},
        BadEntry{"not_json", "hello", "does not start"}),
    [](const auto& test_param) { return std::string(test_param.param.name); });

}  // namespace
}  // namespace keyward::audit
