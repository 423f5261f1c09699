#include "policy/glob.h"

#include <gtest/gtest.h>


#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace keyward::policy {
namespace {

struct MatchCase {
  const char* pattern;
  const char* text;
  bool match;
};
void PrintTo(const MatchCase& c, std::ostream* os) { *os << "'" << c.pattern << "' vs '" << c.text << "'"; }

class NameGlobMatchTest : public ::testing::TestWithParam<MatchCase> {};
TEST_P(NameGlobMatchTest, Matches) {
  EXPECT_EQ(NameGlob(GetParam().pattern).Matches(GetParam().text), GetParam().match);
}
INSTANTIATE_TEST_SUITE_P(Table, NameGlobMatchTest,
                         ::testing::Values(MatchCase{"*", "", true}, MatchCase{"*", "anything at all", true},
                                           MatchCase{"a*", "a", true}, MatchCase{"a*", "ba", false},
                                           MatchCase{"*b", "ab", true}, MatchCase{"*b", "abc", false},
                                           MatchCase{"a*b*c", "aXbYc", true}, MatchCase{"a*b*c", "aXbY", false},
                                           MatchCase{"a*b*c", "abcbc", true}, MatchCase{"**", "x", true},
                                           MatchCase{"pipeline-*", "pipeline-etl", true},
                                           MatchCase{"pipeline-*", "Pipeline-etl", false},
                                           MatchCase{"a", "a", true}, MatchCase{"a", "A", false},
                                           MatchCase{"a", "", false}, MatchCase{"", "", true},
                                           MatchCase{"a*", "a/b", true}, MatchCase{"cl\xC3\xA9-*", "cl\xC3\xA9-x", true},
                                           MatchCase{"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}));

class PathGlobMatchTest : public ::testing::TestWithParam<MatchCase> {};
TEST_P(PathGlobMatchTest, Matches) {
  EXPECT_EQ(PathGlob(GetParam().pattern).Matches(GetParam().text), GetParam().match);
}
INSTANTIATE_TEST_SUITE_P(
    Table, PathGlobMatchTest,
    ::testing::Values(MatchCase{"secret/*", "secret/a", true}, MatchCase{"secret/*", "secret/a/b", false},
                      MatchCase{"secret/*", "secret", false}, MatchCase{"secret/**", "secret", true},
                      MatchCase{"secret/**", "secret/a/b", true}, MatchCase{"secret/**", "secrets/a", false},
                      MatchCase{"**", "", true}, MatchCase{"**", "a/b/c", true}, MatchCase{"", "", true},
                      MatchCase{"", "a", false}, MatchCase{"*", "", false}, MatchCase{"*", "a", true},
                      MatchCase{"*", "a/b", false}, MatchCase{"secret/**/db", "secret/db", true},
                      MatchCase{"secret/**/db", "secret/a/b/db", true},
                      MatchCase{"secret/**/db", "secret/a/b/dbx", false},
                      MatchCase{"secret/team-*", "secret/team-a", true},
                      MatchCase{"secret/team-*", "secret/team-a/x", false}, MatchCase{"**/db", "a/b/db", true},
                      MatchCase{"**/a/*", "x/a/y/a/z", true}, MatchCase{"**/a/*", "x/a", false},
                      MatchCase{"*/*", "a/b", true}, MatchCase{"*/*", "a", false},
                      MatchCase{"a/**/**/b", "a/b", true}, MatchCase{"a/**/b/**/c", "a/x/b/y/b/z/c", true}));

struct CoverCase {
  const char* broad;
  const char* narrow;
  bool covers;
};
void PrintTo(const CoverCase& c, std::ostream* os) { *os << "'" << c.broad << "' covers '" << c.narrow << "'"; }

class NameGlobCoverTest : public ::testing::TestWithParam<CoverCase> {};
TEST_P(NameGlobCoverTest, Covers) {
  EXPECT_EQ(NameGlob(GetParam().broad).Covers(NameGlob(GetParam().narrow)), GetParam().covers);
}
INSTANTIATE_TEST_SUITE_P(Table, NameGlobCoverTest,
                         ::testing::Values(CoverCase{"*", "anything*", true},
                                           CoverCase{"pipeline-*", "pipeline-etl-*", true},
                                           CoverCase{"pipeline-etl-*", "pipeline-*", false},
                                           CoverCase{"a*c", "abc", true}, CoverCase{"abc", "a*c", false},
                                           CoverCase{"a*", "a*", true}, CoverCase{"*b", "a*", false},
                                           CoverCase{"x", "x", true}, CoverCase{"x", "y", false}));

class PathGlobCoverTest : public ::testing::TestWithParam<CoverCase> {};
TEST_P(PathGlobCoverTest, Covers) {
  EXPECT_EQ(PathGlob(GetParam().broad).Covers(PathGlob(GetParam().narrow)), GetParam().covers);
}
INSTANTIATE_TEST_SUITE_P(Table, PathGlobCoverTest,
                         ::testing::Values(CoverCase{"secret/**", "secret/a/*", true},
                                           CoverCase{"secret/*", "secret/**", false},
                                           CoverCase{"secret/*", "secret/a", true},
                                           CoverCase{"secret/a", "secret/*", false},
                                           CoverCase{"**", "x/**/y", true},
                                           CoverCase{"secret/**/db", "secret/x/db", true},
                                           CoverCase{"secret/*/db", "secret/**/db", false},
                                           CoverCase{"secret/team-*", "secret/team-a*", true},
                                           CoverCase{"", "", true}, CoverCase{"**", "", true},
                                           CoverCase{"*", "", false}));

// --- Randomized checks against a brute-force oracle -------------------------------------------------

// Exponential but obviously right: try every length for each '*'.
bool OracleWildcard(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern[0] == '*') {
    for (std::size_t k = 0; k <= text.size(); ++k) {
      if (OracleWildcard(pattern.substr(1), text.substr(k))) return true;
    }
    return false;
  }
  return !text.empty() && pattern[0] == text[0] && OracleWildcard(pattern.substr(1), text.substr(1));
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = s.find('/', start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

bool OraclePath(const std::vector<std::string>& pat, std::size_t p, const std::vector<std::string>& txt,
                std::size_t t) {
  if (p == pat.size()) return t == txt.size();
  if (pat[p] == "**") {
    for (std::size_t k = t; k <= txt.size(); ++k) {
      if (OraclePath(pat, p + 1, txt, k)) return true;
    }
    return false;
  }
  return t < txt.size() && OracleWildcard(pat[p], txt[t]) && OraclePath(pat, p + 1, txt, t + 1);
}

std::string RandomSegment(std::mt19937& rng, bool pattern) {
  static const char kAlphabet[] = "ab*";
  std::string s;
  const int len = std::uniform_int_distribution<int>(1, 3)(rng);
  for (int i = 0; i < len; ++i) s += kAlphabet[std::uniform_int_distribution<int>(0, pattern ? 2 : 1)(rng)];
  return s;
}

std::string RandomPath(std::mt19937& rng, bool pattern) {
  std::string s;
  const int n = std::uniform_int_distribution<int>(pattern ? 1 : 0, 4)(rng);
  for (int i = 0; i < n; ++i) {
    if (i) s += '/';
    if (pattern && std::uniform_int_distribution<int>(0, 4)(rng) == 0) {
      s += "**";
    } else {
      s += RandomSegment(rng, pattern);
    }
  }
  return s;
}

TEST(GlobPropertyTest, PathGlobAgreesWithBruteForce) {
  std::mt19937 rng(20261204);
  for (int i = 0; i < 20000; ++i) {
    const std::string pattern = RandomPath(rng, true);
    const std::string text = RandomPath(rng, false);
    ASSERT_EQ(PathGlob(pattern).Matches(text), OraclePath(Split(pattern), 0, Split(text), 0))
        << "pattern '" << pattern << "' text '" << text << "'";
  }
}

// Whether `pat` from position p can consume all of `txt` from t and still be matching: then some path
// equal to or below the text matches (every remaining pattern suffix matches some segments).
bool OracleUnder(const std::vector<std::string>& pat, std::size_t p, const std::vector<std::string>& txt,
                 std::size_t t) {
  if (t == txt.size()) return true;
  if (p == pat.size()) return false;
  if (pat[p] == "**") {
    for (std::size_t k = t; k <= txt.size(); ++k) {
      if (OracleUnder(pat, p + 1, txt, k)) return true;
    }
    return false;
  }
  return OracleWildcard(pat[p], txt[t]) && OracleUnder(pat, p + 1, txt, t + 1);
}

TEST(GlobPropertyTest, MatchesUnderAgreesWithBruteForce) {
  std::mt19937 rng(1204);
  int under = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string pattern = RandomPath(rng, true);
    const std::string prefix = RandomPath(rng, false);
    const bool expected = OracleUnder(Split(pattern), 0, Split(prefix), 0);
    under += expected ? 1 : 0;
    ASSERT_EQ(PathGlob(pattern).MatchesUnder(prefix), expected) << "pattern '" << pattern << "' prefix '" << prefix << "'";
  }
  EXPECT_GT(under, 2000);  // both answers were exercised
  EXPECT_LT(under, 18000);
}

TEST(PathGlobTest, MatchesUnder) {
  EXPECT_TRUE(PathGlob("secret/data-eng/snowflake").MatchesUnder("secret"));
  EXPECT_TRUE(PathGlob("secret/data-eng/snowflake").MatchesUnder("secret/data-eng/snowflake"));
  EXPECT_FALSE(PathGlob("secret/data-eng/snowflake").MatchesUnder("secret/data"));  // not a whole segment
  EXPECT_FALSE(PathGlob("secret/data-eng/snowflake").MatchesUnder("secret/data-eng/snowflake/x"));
  EXPECT_TRUE(PathGlob("secret/*/ml").MatchesUnder("secret/anything"));
  EXPECT_FALSE(PathGlob("secret/*/ml").MatchesUnder("other"));
  EXPECT_TRUE(PathGlob("secret/**/ml").MatchesUnder("secret/a/b/c/d"));
  EXPECT_TRUE(PathGlob("x").MatchesUnder(""));  // everything is below the empty prefix
  EXPECT_TRUE(PathGlob("").MatchesUnder(""));
  EXPECT_FALSE(PathGlob("").MatchesUnder("secret"));
}

TEST(GlobPropertyTest, WildcardAgreesWithBruteForce) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string pattern, text;
    const int pl = std::uniform_int_distribution<int>(0, 6)(rng);
    const int tl = std::uniform_int_distribution<int>(0, 8)(rng);
    for (int k = 0; k < pl; ++k) pattern += "ab*"[std::uniform_int_distribution<int>(0, 2)(rng)];
    for (int k = 0; k < tl; ++k) text += "ab"[std::uniform_int_distribution<int>(0, 1)(rng)];
    ASSERT_EQ(WildcardMatch(pattern, text), OracleWildcard(pattern, text)) << pattern << " vs " << text;
  }
}

// Covers must be sound: when it says yes, every text the narrower glob matches, the broader matches.
TEST(GlobPropertyTest, PathCoversIsSound) {
  std::mt19937 rng(42);
  int proven = 0;
  for (int i = 0; i < 3000; ++i) {
    const PathGlob broad(RandomPath(rng, true));
    const PathGlob narrow(RandomPath(rng, true));
    if (!broad.Covers(narrow)) continue;
    ++proven;
    for (int k = 0; k < 200; ++k) {
      const std::string text = RandomPath(rng, false);
      if (narrow.Matches(text)) {
        ASSERT_TRUE(broad.Matches(text)) << "'" << broad.pattern() << "' claimed to cover '" << narrow.pattern()
                                         << "' but misses '" << text << "'";
      }
    }
  }
  EXPECT_GT(proven, 100);  // the property was exercised, not vacuously true
}

}  // namespace
}  // namespace keyward::policy
