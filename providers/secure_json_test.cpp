#include "providers/secure_json.h"

#include <gtest/gtest.h>

namespace keyward::providers {
namespace {

TEST(WriteJson, MatchesNlohmannsCompactDump) {
  const char* docs[] = {
      R"({"a":"x","b":[1,-2,3.5,true,false,null],"c":{"d":"é \"q\" \\ \n\t\u0001"}})",
      R"([])",
      R"({})",
      R"("plain")",
      R"(18446744073709551615)",
      R"(-9223372036854775808)",
      R"({"f":1e100,"g":0.1,"h":2.0})",
  };
  for (const char* text : docs) {
    auto j = ParseJson(text);
    ASSERT_TRUE(j.has_value()) << text;
    EXPECT_EQ(ToJson(*j).view(), j->dump()) << text;
  }
}

TEST(WriteJsonString, EscapesLikeJson) {
  SecureString out;
  WriteJsonString("a\"b\\c\x1f\x7f\xc3\xa9", &out);
  EXPECT_EQ(out.view(), "\"a\\\"b\\\\c\\u001f\x7f\xc3\xa9\"");
}

TEST(WipeJsonStrings, EmptiesEveryStringAndKeepsTheShape) {
  auto j = ParseJson(R"({"user":"alice","password":"hunter2hunter2hunter2","list":["a-long-secret-value-x",1]})");
  ASSERT_TRUE(j.has_value());
  WipeJsonStrings(&*j);
  EXPECT_EQ(j->dump(), R"({"list":["",1],"password":"","user":""})");
}

TEST(WipedJson, WipesOnDestructionAndMovesCleanly) {
  WipedJson a(Json{{"k", "value-long-enough-to-be-on-the-heap"}});
  WipedJson b(std::move(a));
  EXPECT_EQ(b.get()["k"], "value-long-enough-to-be-on-the-heap");
  EXPECT_TRUE(a.get().is_null());  // NOLINT(bugprone-use-after-move): moved-from state is defined
}

}  // namespace
}  // namespace keyward::providers
