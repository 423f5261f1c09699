#include "providers/http/url.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/testing/status_matchers.h"

namespace keyward::http {
namespace {

using ::keyward::testing::IsOk;
using ::keyward::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseUrl, HttpsWithPortAndPrefix) {
  auto o = ParseUrl("https://vault.example.com:8200/prefix/");
  ASSERT_THAT(o, IsOk());
  EXPECT_TRUE(o->tls);
  EXPECT_EQ(o->host, "vault.example.com");
  EXPECT_EQ(o->port, "8200");
  EXPECT_EQ(o->base_path, "/prefix");
  EXPECT_EQ(o->HostHeader(), "vault.example.com:8200");
  EXPECT_EQ(o->ToString(), "https://vault.example.com:8200");
}

TEST(ParseUrl, DefaultPortsAreLeftOutOfTheHostHeader) {
  auto o = ParseUrl("https://adb-123.azuredatabricks.net");
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->port, "443");
  EXPECT_EQ(o->HostHeader(), "adb-123.azuredatabricks.net");
  auto p = ParseUrl("http://127.0.0.1");
  ASSERT_THAT(p, IsOk());
  EXPECT_FALSE(p->tls);
  EXPECT_EQ(p->port, "80");
}

TEST(ParseUrl, Ipv6Literal) {
  auto o = ParseUrl("https://[::1]:8443");
  ASSERT_THAT(o, IsOk());
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, "8443");
  EXPECT_EQ(o->HostHeader(), "[::1]:8443");
}

TEST(ParseUrl, RejectsWhatIsNotAnOrigin) {
  EXPECT_THAT(ParseUrl("vault:8200"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("https://")));
  EXPECT_THAT(ParseUrl("ftp://x"), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseUrl("https://"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("no host")));
  EXPECT_THAT(ParseUrl("https://h:0"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("1-65535")));
  EXPECT_THAT(ParseUrl("https://h:70000"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("1-65535")));
  EXPECT_THAT(ParseUrl("https://h:8x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("bad port")));
  EXPECT_THAT(ParseUrl("https://h:"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("empty port")));
  EXPECT_THAT(ParseUrl("https://user:pw@h"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("user information")));
  EXPECT_THAT(ParseUrl("https://h/?q=1"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("query")));
  EXPECT_THAT(ParseUrl("https://h_x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("not allowed")));
  EXPECT_THAT(ParseUrl("https://[zz]:1"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("IPv6")));
}

TEST(IsIpLiteral, TellsAddressesFromNames) {
  EXPECT_TRUE(IsIpLiteral("127.0.0.1"));
  EXPECT_TRUE(IsIpLiteral("::1"));
  EXPECT_TRUE(IsIpLiteral("2001:db8::7"));
  EXPECT_FALSE(IsIpLiteral("localhost"));
  EXPECT_FALSE(IsIpLiteral("127.0.0.1.nip.io"));
  EXPECT_FALSE(IsIpLiteral(""));
}

TEST(PercentEncode, KeepsUnreservedOnly) {
  EXPECT_EQ(PercentEncode("a-b_c.d~e", false), "a-b_c.d~e");
  EXPECT_EQ(PercentEncode("team a/db?x#y%", false), "team%20a%2Fdb%3Fx%23y%25");
  EXPECT_EQ(PercentEncode("team a/db", true), "team%20a/db");
  EXPECT_EQ(PercentEncode("s@x", false), "s%40x");
  EXPECT_EQ(PercentEncode("\xC3\xA9", false), "%C3%A9");
}

}  // namespace
}  // namespace keyward::http
