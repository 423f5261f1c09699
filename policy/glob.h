// Glob patterns for policy rules. The only metacharacter is '*'. Matching is exact and case-sensitive
// (callers fold case first where a provider is case-insensitive).
//
//   NameGlob  '*' matches any run of characters, including none. Used for ids, principals and keys.
//   PathGlob  the pattern and the text are '/'-separated segments. Inside a segment '*' matches any run
//             of characters except '/'. A segment that is exactly "**" matches any number of whole
//             segments, including none. Used for scopes (Vault paths); the empty text has no segments.
//
// Both match in time linear in the text for typical patterns and never allocate when matching.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace keyward::policy {

// True when `pattern` (with '*' wildcards) matches all of `text`.
bool WildcardMatch(std::string_view pattern, std::string_view text) noexcept;

class NameGlob {
 public:
  NameGlob() = default;
  explicit NameGlob(std::string pattern);

  bool Matches(std::string_view text) const noexcept;
  // True when every text `narrower` matches is also matched by this glob. Conservative: false when the
  // containment cannot be shown by aligning the patterns, so callers may rely on a true answer.
  bool Covers(const NameGlob& narrower) const;

  const std::string& pattern() const { return pattern_; }
  bool is_literal() const { return literal_; }
  bool matches_everything() const { return pattern_ == "*"; }

 private:
  std::string pattern_;
  bool literal_ = true;
};

class PathGlob {
 public:
  PathGlob() = default;
  explicit PathGlob(std::string pattern);

  bool Matches(std::string_view text) const noexcept;
  bool Covers(const PathGlob& narrower) const;  // conservative, as NameGlob::Covers
  // True when the glob matches `prefix` itself or some path below it ("prefix/..."); every path is
  // below the empty prefix. Exact, not conservative. Allocates: for listing, not for deciding.
  bool MatchesUnder(std::string_view prefix) const;

  const std::string& pattern() const { return pattern_; }
  bool is_literal() const { return literal_; }
  bool matches_everything() const { return pattern_ == "**"; }

 private:
  std::string pattern_;
  std::vector<std::string> segments_;  // "**" or a NameGlob pattern without '/'
  bool literal_ = true;
};

}  // namespace keyward::policy
