// The resolve body's two readers: the fast path (no DOM) and the general one it falls back to. The JSON
// fuzzer checks that they agree on every input; these pin the cases a client actually sends. And the
// resolve response's body, which carries the values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base64.h"
#include "core/http/api.h"
#include "core/json.h"

namespace keyward::http {
namespace {

using ::testing::ElementsAre;

TEST(ResolveBodyTest, TheFastPathReadsAWellFormedBody) {
  ResolveRequest req;
  ASSERT_TRUE(ReadWellFormedResolveRequest(
      R"({"secrets":[{"key":"password","provider":"vault","scope":"secret/app"},{"provider":"env","key":"HOME"}],"fabric":"dbx-prod"})",
      100, &req));
  EXPECT_EQ(req.fabric, "dbx-prod");
  EXPECT_THAT(req.refs, ElementsAre(SecretRef{"vault", "secret/app", "password"}, SecretRef{"env", "", "HOME"}));
}

// Each is an error for the general reader, or not what the fast path knows: it must refuse, and leave
// nothing behind, so that the caller reads the body again the general way and reports the error.
TEST(ResolveBodyTest, TheFastPathRefusesEverythingElse) {
  const char* const bodies[] = {
      R"({"fabric":"f","secrets":[{"provider":"p","key":"k"}],"extra":1})",         // unknown field
      R"({"fabric":"f","fabric":"g","secrets":[{"provider":"p","key":"k"}]})",      // duplicate key
      R"({"fabric":"f","secrets":[{"provider":"p","key":"k","key":"k"}]})",         // duplicate in a ref
      R"({"fabric":"f","secrets":[]})",                                             // no secrets
      R"({"secrets":[{"provider":"p","key":"k"}]})",                                // no fabric
      R"({"fabric":"f","secrets":[{"provider":"p"}]})",                             // no key
      R"({"fabric":"f","secrets":[{"key":"k"}]})",                                  // no provider
      R"({"fabric":1,"secrets":[{"provider":"p","key":"k"}]})",                     // a number
      R"({"fabric":"f","secrets":[{"provider":"p","key":["k"]}]})",                 // an array
      R"({"fabric":"f","secrets":{"provider":"p","key":"k"}})",                     // an object, not an array
      R"({"fabric":"f","secrets":["p/k"]})",                                        // a string ref
      R"({"fabric":"f","secrets":[{"provider":"p","key":"k"}]} trailing)",          // not one document
      R"([{"fabric":"f"}])",                                                        // not an object
      "{\"fabric\":\"\xff\",\"secrets\":[{\"provider\":\"p\",\"key\":\"k\"}]}",   // not UTF-8
      R"({"fabric":"f","secrets":[{"provider":"p","key":"k"},{"provider":"p","key":"k2"}]})",  // over max_refs 1
  };
  for (const char* body : bodies) {
    ResolveRequest req;
    EXPECT_FALSE(ReadWellFormedResolveRequest(body, 1, &req)) << body;
    EXPECT_TRUE(req.fabric.empty() && req.refs.empty()) << body;
  }
}

// The body that carries values: every byte comes back exactly, through JSON escapes or base64, and the
// buffer was sized once (a buffer that grew would have left copies of the values in freed memory).
TEST(ResolveResponseBodyTest, CarriesEveryValueExactlyInABufferSizedOnce) {
  const std::string text = std::string("quote\" backslash\\ newline\n tab\t nul") + std::string(1, '\0') + " \xc3\xa9";
  const std::string binary("\xff\xfe\x00\x01", 4);
  const std::string controls(100000, '\x01');  // UTF-8, and each byte is written as \u0001: the worst case
  ResolveResult r;
  r.audit = {41, 43};
  r.secrets.push_back({SecretRef{"vault", "secret/app", "pass\"word"}, SecretValue(text)});
  r.secrets.push_back({SecretRef{"env", "", "BIN"}, SecretValue(binary)});
  r.secrets.push_back({SecretRef{"dbx", "scope", "big"}, SecretValue(controls)});
  const std::string body = ResolveResponseBody(r, "keyward.example/prod");

  const Json j = Json::parse(body);
  ASSERT_EQ(j["secrets"].size(), 3u);
  EXPECT_EQ(j["secrets"][0], (Json{{"provider", "vault"}, {"scope", "secret/app"}, {"key", "pass\"word"}, {"value", text}}));
  EXPECT_EQ(j["secrets"][1]["encoding"], "base64");
  std::string decoded;
  ASSERT_TRUE(Base64DecodeAppend(j["secrets"][1]["value"].get<std::string>(), &decoded));
  EXPECT_EQ(decoded, binary);
  EXPECT_EQ(j["secrets"][2]["value"].get<std::string>(), controls);
  EXPECT_FALSE(j["secrets"][2].contains("encoding"));
  EXPECT_EQ(j["audit"], (Json{{"first_seq", 41}, {"last_seq", 43}, {"origin", "keyward.example/prod"}}));
  // Sized up front to an upper bound (the base64 marker is counted for every secret), not grown.
  EXPECT_GE(body.capacity(), body.size());
  EXPECT_LT(body.capacity() - body.size(), 3 * 32u);
}

}  // namespace
}  // namespace keyward::http
