#include "core/http/auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace keyward::http {
namespace {

using namespace std::chrono_literals;

class AuthThrottleTest : public ::testing::Test {
 protected:
  AuthThrottleTest()
      : auth_({PrincipalCredentials{"pipeline", {*ParseTokenHash(TokenHashString(token_))}, {}}},
              Authenticator::Throttle{3, 1000ms, 2000ms}, [this] { return now_; }) {}

  Authenticator::Verdict Try(const std::string& token, const std::string& peer) {
    return auth_.Authenticate("Bearer " + token, {}, peer);
  }

  const std::string token_ = MintToken();
  std::chrono::steady_clock::time_point now_{};
  Authenticator auth_;
};

TEST(AuthenticatorTest, AnAuthorizationHeaderAloneDecidesEvenWhenEmpty) {
  Authenticator auth({PrincipalCredentials{"admin", {}, {"CN=admin-platform,O=Example Corp"}}},
                     Authenticator::Throttle{10, 1000ms, 2000ms});
  const std::vector<std::string> cert = {"CN=admin-platform,O=Example Corp"};
  const auto by_cert = auth.Authenticate(std::nullopt, cert, "10.0.0.1");
  EXPECT_EQ(by_cert.outcome, Authenticator::Outcome::kOk);
  EXPECT_EQ(by_cert.principal, "admin");
  // Present but empty, or blank: a malformed header, not a missing one; the certificate does not count.
  for (const std::string_view header : {std::string_view(""), std::string_view("   "), std::string_view("Bearer ")}) {
    const auto v = auth.Authenticate(header, cert, "10.0.0.1");
    EXPECT_EQ(v.outcome, Authenticator::Outcome::kFailed) << "'" << header << "'";
    EXPECT_EQ(v.failure, "the Authorization header is not \"Bearer <token>\"");
  }
}

TEST(AuthenticatorTest, ACertificateNamingTwoPrincipalsAuthenticatesNeither) {
  Authenticator auth({PrincipalCredentials{"etl", {}, {"CN=pipeline-etl,O=Example Corp"}},
                      PrincipalCredentials{"srv", {}, {"DNS:etl.example.com"}}},
                     Authenticator::Throttle{10, 1000ms, 2000ms});
  const auto both = auth.Authenticate(std::nullopt, {"CN=pipeline-etl,O=Example Corp", "DNS:etl.example.com"}, "10.0.0.1");
  EXPECT_EQ(both.outcome, Authenticator::Outcome::kFailed);
  EXPECT_EQ(both.principal, "");
  EXPECT_EQ(both.failure, "the client certificate maps to more than one principal");
  // Two identities of one principal, or one identity that maps and one that does not, are that principal.
  Authenticator one({PrincipalCredentials{"etl", {}, {"CN=pipeline-etl,O=Example Corp", "DNS:etl.example.com"}}},
                    Authenticator::Throttle{10, 1000ms, 2000ms});
  const auto same = one.Authenticate(std::nullopt, {"CN=pipeline-etl,O=Example Corp", "DNS:etl.example.com"}, "10.0.0.1");
  EXPECT_EQ(same.outcome, Authenticator::Outcome::kOk);
  EXPECT_EQ(same.principal, "etl");
  const auto partly = one.Authenticate(std::nullopt, {"CN=someone-else", "DNS:etl.example.com"}, "10.0.0.1");
  EXPECT_EQ(partly.outcome, Authenticator::Outcome::kOk);
  EXPECT_EQ(partly.principal, "etl");
}

TEST(AuthenticatorTest, ATokenMatchesOnlyItsWholeHash) {
  // Tokens are looked up by the first bytes of their hash, then compared in full: a stored hash that
  // shares every byte with the presented token's but one, wherever that byte is, does not authenticate.
  const std::string token = MintToken();
  const Digest hash = *ParseTokenHash(TokenHashString(token));
  for (const std::size_t i : {std::size_t{0}, std::size_t{7}, std::size_t{8}, std::size_t{16}, hash.size() - 1}) {
    Digest near = hash;
    near[i] = static_cast<std::uint8_t>(near[i] ^ 0x01u);
    Authenticator auth({PrincipalCredentials{"near", {near}, {}}}, Authenticator::Throttle{10, 1000ms, 2000ms});
    const auto v = auth.Authenticate("Bearer " + token, {}, "10.0.0.1");
    EXPECT_EQ(v.outcome, Authenticator::Outcome::kFailed) << "byte " << i;
    EXPECT_EQ(v.failure, "unknown token");
  }
  // Among principals whose hashes share its prefix, the token names the one whose hash is its own.
  Digest sibling = hash;
  sibling.back() = static_cast<std::uint8_t>(sibling.back() ^ 0x80u);
  Authenticator auth({PrincipalCredentials{"sibling", {sibling}, {}}, PrincipalCredentials{"owner", {hash}, {}}},
                     Authenticator::Throttle{10, 1000ms, 2000ms});
  const auto v = auth.Authenticate("Bearer " + token, {}, "10.0.0.1");
  EXPECT_EQ(v.outcome, Authenticator::Outcome::kOk);
  EXPECT_EQ(v.principal, "owner");
}

TEST_F(AuthThrottleTest, APeerIsBlockedAfterItsFailuresAndFreedWhenTheBlockEnds) {
  EXPECT_EQ(Try("kw_wrong", "10.0.0.1").outcome, Authenticator::Outcome::kFailed);
  EXPECT_EQ(Try("kw_wrong", "10.0.0.1").outcome, Authenticator::Outcome::kFailed);
  const auto third = Try("kw_wrong", "10.0.0.1");
  EXPECT_EQ(third.outcome, Authenticator::Outcome::kThrottled);
  EXPECT_TRUE(third.throttle_started);
  // Blocked: even the right token is refused, and only for this peer.
  const auto blocked = Try(token_, "10.0.0.1");
  EXPECT_EQ(blocked.outcome, Authenticator::Outcome::kThrottled);
  EXPECT_EQ(blocked.retry_after, 2000ms);
  EXPECT_EQ(Try(token_, "10.0.0.2").outcome, Authenticator::Outcome::kOk);
  now_ += 2001ms;
  EXPECT_EQ(Try(token_, "10.0.0.1").outcome, Authenticator::Outcome::kOk);
  EXPECT_EQ(Try("kw_wrong", "10.0.0.1").outcome, Authenticator::Outcome::kFailed);  // a clean slate
}

// An attacker cycling through addresses, one failure each, must not grow the throttle's memory without
// bound: peers whose failures have left the window are forgotten.
TEST_F(AuthThrottleTest, PeersWithNothingLeftToRememberAreForgotten) {
  for (int i = 0; i < 5000; ++i) Try("kw_wrong", "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  EXPECT_EQ(auth_.tracked_peers(), 5000u);
  now_ += 1001ms;  // those failures are out of the window
  for (int i = 0; i < 5000; ++i) Try("kw_wrong", "10.2." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  EXPECT_EQ(auth_.tracked_peers(), 5000u) << "the first 5,000 peers should have been swept";
}

TEST_F(AuthThrottleTest, AnEndedBlockIsSweptToo) {
  for (int i = 0; i < 3; ++i) Try("kw_wrong", "10.0.0.9");  // blocked, and never seen again
  now_ += 2001ms;
  for (int i = 0; i < 2000; ++i) Try("kw_wrong", "10.3." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  EXPECT_EQ(auth_.tracked_peers(), 2000u);
  // No block is left: the next peer to fail three times is blocked as usual.
  for (int i = 0; i < 2; ++i) Try("kw_wrong", "10.0.0.10");
  EXPECT_EQ(Try("kw_wrong", "10.0.0.10").outcome, Authenticator::Outcome::kThrottled);
}

}  // namespace
}  // namespace keyward::http
