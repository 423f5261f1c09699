// The resolve body's two readers: the fast path (no DOM) and the general one it falls back to. The JSON
// fuzzer checks that they agree on every input; these pin the cases a client actually sends.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/http/api.h"

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

}  // namespace
}  // namespace keyward::http
