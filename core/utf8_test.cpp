#include "core/utf8.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace keyward {
namespace {

struct Utf8Case {
  const char* name;
  std::string bytes;
  std::size_t first_invalid;  // std::string::npos = valid
};

inline void PrintTo(const Utf8Case& c, std::ostream* os) { *os << c.name; }

class Utf8Test : public ::testing::TestWithParam<Utf8Case> {};

TEST_P(Utf8Test, FindsFirstIllFormedByte) {
  const Utf8Case& c = GetParam();
  const std::size_t expect = c.first_invalid == std::string::npos ? c.bytes.size() : c.first_invalid;
  EXPECT_EQ(FirstInvalidUtf8(c.bytes), expect);
  EXPECT_EQ(IsValidUtf8(c.bytes), c.first_invalid == std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Table, Utf8Test,
    ::testing::Values(Utf8Case{"empty", "", std::string::npos}, Utf8Case{"ascii", "db_password", std::string::npos},
                      Utf8Case{"two_byte", "cl\xC3\xA9", std::string::npos},
                      Utf8Case{"three_byte", "\xE2\x82\xAC", std::string::npos},
                      Utf8Case{"four_byte", "\xF0\x9F\x94\x91", std::string::npos},
                      Utf8Case{"max_code_point", "\xF4\x8F\xBF\xBF", std::string::npos},
                      Utf8Case{"lone_continuation", "a\x80", 1}, Utf8Case{"overlong_slash", "\xC0\xAF", 0},
                      Utf8Case{"overlong_three", "\xE0\x80\xAF", 0}, Utf8Case{"surrogate", "ab\xED\xA0\x80", 2},
                      Utf8Case{"above_max", "\xF4\x90\x80\x80", 0}, Utf8Case{"truncated", "ok\xE2\x82", 2},
                      Utf8Case{"bad_lead", "\xFF", 0}, Utf8Case{"bad_continuation", "\xC3\x28", 0}),
    [](const auto& test_param) { return std::string(test_param.param.name); });

TEST(Utf8Test, ControlCharacters) {
  EXPECT_FALSE(HasControlCharacter("plain text \xC3\xA9"));
  EXPECT_TRUE(HasControlCharacter(std::string("a\0b", 3)));
  EXPECT_TRUE(HasControlCharacter("tab\there"));
  EXPECT_TRUE(HasControlCharacter("del\x7F"));
  // C1 controls and bidirectional formatting: a key "pass<U+0085>word" prints as "password".
  for (const char* c : {"\xC2\x80", "\xC2\x85", "\xC2\x9F", "\xD8\x9C", "\xE2\x80\x8E", "\xE2\x80\x8F",
                        "\xE2\x80\xAA", "\xE2\x80\xAE", "\xE2\x81\xA6", "\xE2\x81\xA9"}) {
    EXPECT_TRUE(HasControlCharacter(std::string("pass") + c + "word")) << Printable(c);
  }
  // Their neighbours are ordinary characters.
  for (const char* c : {"\xC2\xA0", "\xC2\xA9", "\xD8\x9B", "\xE2\x80\x90", "\xE2\x80\xA9", "\xE2\x80\xAF",
                        "\xE2\x81\xA5", "\xE2\x81\xAA", "\xE2\x82\xAC"}) {
    EXPECT_FALSE(HasControlCharacter(std::string("pass") + c + "word")) << Printable(c);
  }
}

TEST(Utf8Test, PrintableEscapesControlAndInvalidBytes) {
  EXPECT_EQ(Printable("abc"), "abc");
  EXPECT_EQ(Printable("a\nb"), "a\\x0Ab");
  EXPECT_EQ(Printable("cl\xC3\xA9"), "cl\xC3\xA9");
  EXPECT_EQ(Printable("pass\xC2\x85word"), "pass\\xC2\\x85word");
  EXPECT_EQ(Printable("a\xE2\x80\xAE" "b"), "a\\xE2\\x80\\xAEb");
  EXPECT_EQ(Printable("\xE2\x82\xAC"), "\xE2\x82\xAC");
  EXPECT_EQ(Printable("x\xC3"), "x\\xC3");
  EXPECT_EQ(Printable(std::string(200, 'k'), 10), std::string(10, 'k') + "...");
}

}  // namespace
}  // namespace keyward
