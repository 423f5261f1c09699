#include "core/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/testing/status_matchers.h"

namespace keyward {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseJsonTest, ParsesNestedDocuments) {
  auto r = ParseJson(R"({"a":[1,{"b":"c"}],"d":true,"e":null,"f":-2.5})");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ((*r)["a"][1]["b"], "c");
  EXPECT_EQ((*r)["d"], true);
  EXPECT_EQ((*r)["f"], -2.5);
  EXPECT_EQ(r->dump(), R"({"a":[1,{"b":"c"}],"d":true,"e":null,"f":-2.5})");
}

TEST(ParseJsonTest, ScalarRoot) {
  auto r = ParseJson("\"x\"");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(*r, "x");
}

TEST(ParseJsonTest, DuplicateKeyIsRejectedWithItsPointer) {
  EXPECT_THAT(ParseJson(R"({"rules":[{"id":"a"},{"effect":"deny","effect":"allow"}]})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("duplicate key 'effect' in the object at /rules/1")));
}

TEST(ParseJsonTest, DuplicateKeyAtTopLevel) {
  EXPECT_THAT(ParseJson(R"({"a":1,"b":2,"a":3})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("duplicate key 'a' in the top-level object")));
}

TEST(ParseJsonTest, DuplicateKeyInLargeObject) {
  std::string doc = "{";
  for (int i = 0; i < 100; ++i) doc += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  doc += "\"k57\":0}";
  EXPECT_THAT(ParseJson(doc), StatusIs(StatusCode::kInvalidArgument, HasSubstr("duplicate key 'k57'")));
}

TEST(ParseJsonTest, SameKeyInSiblingObjectsIsFine) {
  EXPECT_THAT(ParseJson(R"([{"a":1},{"a":2}])"), IsOk());
}

TEST(ParseJsonTest, DepthLimit) {
  const std::string deep = std::string(65, '[') + std::string(65, ']');
  EXPECT_THAT(ParseJson(deep), StatusIs(StatusCode::kInvalidArgument, HasSubstr("nesting deeper than 64")));
  const std::string ok = std::string(64, '[') + std::string(64, ']');
  EXPECT_THAT(ParseJson(ok), IsOk());
  EXPECT_THAT(ParseJson(std::string(100000, '[')),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("nesting deeper")));
}

TEST(ParseJsonTest, CommentsOnlyWhenAllowed) {
  const std::string doc = "{\n  // who may read\n  \"a\": 1 /* inline */\n}";
  EXPECT_THAT(ParseJson(doc), StatusIs(StatusCode::kInvalidArgument, HasSubstr("line 2")));
  EXPECT_THAT(ParseJson(doc, JsonLimits{.allow_comments = true}), IsOk());
}

TEST(ParseJsonTest, SyntaxErrorGivesLineColumnAndPointer) {
  EXPECT_THAT(ParseJson("{\n \"rules\": [\n  {\"id\": }\n ]\n}"),
              StatusIs(StatusCode::kInvalidArgument, AllOf(HasSubstr("line 3"), HasSubstr("/rules/0"))));
}

TEST(ParseJsonTest, ErrorsNeverQuoteTheDocument) {
  // A request body carries a secret value; a broken body must not have it echoed into an error.
  const std::string secret = "hunter2-SECRET-VALUE";
  for (const std::string& doc : {
           R"({"value":")" + secret + "\n\"}",                 // raw newline inside a string
           R"({"value":")" + secret + "\\q\"}",                // bad escape
           R"({"value":")" + secret + "\xC3\x28\"}",           // ill-formed UTF-8
           R"({"value":)" + secret + "}",                      // bare word
           R"({"value":")" + secret,                           // unterminated
           R"({"value":")" + secret + R"(","value":"x"})",     // duplicate key
       }) {
    auto r = ParseJson(doc);
    ASSERT_FALSE(r.has_value()) << doc;
    EXPECT_THAT(r.error().message(), Not(HasSubstr("hunter2"))) << r.error().message();
  }
}

TEST(ParseJsonTest, SyntaxErrorsSayWhatWasExpected) {
  // The grammar tokens nlohmann quotes stay; only quotes that could hold a value are cut.
  auto empty = ParseJson("");
  ASSERT_FALSE(empty.has_value());
  EXPECT_THAT(empty.error().message(), HasSubstr("unexpected end of input; expected '[', '{', or a literal"));
  auto trailing_comma = ParseJson(R"({"value":"SECRETV",})");
  ASSERT_FALSE(trailing_comma.has_value());
  EXPECT_THAT(trailing_comma.error().message(),
              HasSubstr("syntax error while parsing object key - unexpected '}'; expected string literal"));
  EXPECT_THAT(trailing_comma.error().message(), Not(HasSubstr("SECRETV")));
}

TEST(ParseJsonTest, ANumberTooLargeIsNotQuoted) {
  // A Vault map may hold a secret number: nlohmann's range error quotes the token it read.
  auto r = ParseJson(R"({"pin":1e99999123})");
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message(), Not(HasSubstr("99999123"))) << r.error().message();
  EXPECT_THAT(r.error().message(), HasSubstr("number overflow"));
}

TEST(ParseJsonTest, ASecretDocumentsErrorsNameNoKey) {
  // In a provider's answer a value may be an object whose keys are part of the secret.
  for (const std::string doc : {R"({"data":{"db":{"hunter2-key":1e99999}}})", R"({"data":{"hunter2-key":1,"hunter2-key":2}})",
                                R"({"data":{"hunter2-key":[[[[1]]]]}})", R"({"data":{"hunter2-key":tru}})"}) {
    auto r = ParseJson(doc, JsonLimits{3, false, false});
    ASSERT_FALSE(r.has_value()) << doc;
    EXPECT_THAT(r.error().message(), Not(HasSubstr("hunter2"))) << r.error().message();
    EXPECT_THAT(ParseJson(doc, JsonLimits{3, false, true}).error().message(), HasSubstr("hunter2"))
        << "the same document names the key when allowed to";
  }
}

TEST(ParseJsonTest, IllFormedUtf8IsRejected) {
  EXPECT_THAT(ParseJson("{\"k\":\"\xFF\"}"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("UTF-8")));
}

TEST(ParseJsonTest, TrailingGarbageIsRejected) {
  EXPECT_THAT(ParseJson(R"({"a":1} x)"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseJson(""), StatusIs(StatusCode::kInvalidArgument));
}

TEST(JsonPointerTest, EscapesTildeAndSlash) {
  EXPECT_EQ(JsonPointerJoin("/a", "b/c~d"), "/a/b~1c~0d");
  EXPECT_EQ(JsonPointerJoin("", std::size_t{3}), "/3");
}

class SchemaReaderTest : public ::testing::Test {
 protected:
  std::vector<Diagnostic> diags_;
  SchemaReader reader_{&diags_};
};

TEST_F(SchemaReaderTest, ReportsEveryUnknownField) {
  Json j = Json::parse(R"({"id":"a","efect":"x","sekrets":[]})");
  EXPECT_TRUE(reader_.Object(j, "/rules/0", {"id", "effect", "secrets"}));
  ASSERT_EQ(diags_.size(), 2u);
  EXPECT_EQ(diags_[0].pointer, "/rules/0/efect");
  EXPECT_EQ(diags_[0].kind, "unknown-field");
  EXPECT_THAT(diags_[0].message, HasSubstr("unknown field 'efect' (expected one of: id, effect, secrets)"));
  EXPECT_EQ(diags_[1].pointer, "/rules/0/sekrets");
}

TEST_F(SchemaReaderTest, NotAnObject) {
  EXPECT_FALSE(reader_.Object(Json::array(), "/fabrics/2", {"id"}));
  ASSERT_EQ(diags_.size(), 1u);
  EXPECT_EQ(diags_[0].pointer, "/fabrics/2");
  EXPECT_EQ(diags_[0].message, "expected an object, got an array");
}

TEST_F(SchemaReaderTest, MissingAndMistypedMembers) {
  Json j = Json::parse(R"({"id":7,"managed":"yes","n":5000})");
  EXPECT_FALSE(reader_.String(j, "/x", "id", true).has_value());
  EXPECT_FALSE(reader_.String(j, "/x", "kind", true).has_value());
  EXPECT_FALSE(reader_.String(j, "/x", "optional", false).has_value());
  EXPECT_FALSE(reader_.Bool(j, "/x", "managed", false).has_value());
  EXPECT_FALSE(reader_.Integer(j, "/x", "n", true, 1, 100).has_value());
  ASSERT_EQ(diags_.size(), 4u);
  EXPECT_EQ(diags_[0].pointer, "/x/id");
  EXPECT_EQ(diags_[0].message, "expected a string, got an integer");
  EXPECT_EQ(diags_[1].pointer, "/x");
  EXPECT_EQ(diags_[1].kind, "missing-field");
  EXPECT_THAT(diags_[1].message, HasSubstr("'kind'"));
  EXPECT_EQ(diags_[2].pointer, "/x/managed");
  EXPECT_EQ(diags_[3].kind, "range");
  EXPECT_EQ(reader_.error_count(), 4u);
}

TEST_F(SchemaReaderTest, StringArrayReportsEachBadElement) {
  Json j = Json::parse(R"({"fabrics":["a",1,"b",null],"empty":[]})");
  EXPECT_FALSE(reader_.StringArray(j, "/r", "fabrics", true, false).has_value());
  EXPECT_FALSE(reader_.StringArray(j, "/r", "empty", true, false).has_value());
  ASSERT_EQ(diags_.size(), 3u);
  EXPECT_EQ(diags_[0].pointer, "/r/fabrics/1");
  EXPECT_EQ(diags_[1].pointer, "/r/fabrics/3");
  EXPECT_EQ(diags_[2].pointer, "/r/empty");
  EXPECT_EQ(diags_[2].kind, "empty");
  auto ok = reader_.StringArray(Json::parse(R"({"a":["x","y"]})"), "", "a", true, false);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->size(), 2u);
}

}  // namespace
}  // namespace keyward
