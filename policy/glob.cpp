#include "policy/glob.h"

#include <algorithm>
#include <cstddef>

namespace keyward::policy {
namespace {

// Does every sequence matched by the token pattern `narrow` also match `broad`? Simulates `broad` as an
// NFA over the tokens of `narrow`. A star token of `broad` absorbs any run of narrow tokens, stars
// included; any other broad token consumes one narrow token when `consumes(broad_token, narrow_token)`.
// A narrow star can only be absorbed by a broad star, so the answer is sound (never a false yes), and
// complete for the patterns people write.
template <typename Broad, typename Narrow, typename IsStar, typename Consumes>
bool CoversByNfa(const Broad& broad, const Narrow& narrow, IsStar is_star, Consumes consumes) {
  const std::size_t n = broad.size();
  std::vector<char> cur(n + 1, 0), next(n + 1, 0);
  auto close = [&](std::vector<char>& s) {
    for (std::size_t i = 0; i < n; ++i) {
      if (s[i] && is_star(broad[i])) s[i + 1] = 1;
    }
  };
  cur[0] = 1;
  close(cur);
  for (const auto& t : narrow) {
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!cur[i]) continue;
      if (is_star(broad[i])) {
        next[i] = 1;
        any = true;
      } else if (consumes(broad[i], t)) {
        next[i + 1] = 1;
        any = true;
      }
    }
    if (!any) return false;
    close(next);
    cur.swap(next);
  }
  return cur[n] != 0;
}

bool WildcardCovers(std::string_view broad, std::string_view narrow) {
  return CoversByNfa(
      broad, narrow, [](char c) { return c == '*'; }, [](char b, char t) { return t != '*' && b == t; });
}

// Iterates '/'-separated segments of a text by byte offsets, without allocating.
struct SegmentCursor {
  std::string_view text;
  // The segment starting at `pos`, and the offset of the next segment (text.size() + 1 past the end).
  std::string_view At(std::size_t pos) const {
    const std::size_t end = text.find('/', pos);
    return text.substr(pos, (end == std::string_view::npos ? text.size() : end) - pos);
  }
  std::size_t Next(std::size_t pos) const {
    const std::size_t end = text.find('/', pos);
    return end == std::string_view::npos ? text.size() + 1 : end + 1;
  }
};

}  // namespace

bool WildcardMatch(std::string_view pattern, std::string_view text) noexcept {
  // Greedy with backtracking to the most recent '*': linear for patterns with one '*', O(n*m) worst.
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

NameGlob::NameGlob(std::string pattern)
    : pattern_(std::move(pattern)), literal_(pattern_.find('*') == std::string::npos) {}

bool NameGlob::Matches(std::string_view text) const noexcept {
  if (literal_) return text == pattern_;
  if (matches_everything()) return true;
  return WildcardMatch(pattern_, text);
}

bool NameGlob::Covers(const NameGlob& narrower) const {
  if (matches_everything()) return true;
  return WildcardCovers(pattern_, narrower.pattern_);
}

PathGlob::PathGlob(std::string pattern) : pattern_(std::move(pattern)) {
  literal_ = pattern_.find('*') == std::string::npos;
  std::size_t start = 0;
  while (!pattern_.empty() && start <= pattern_.size()) {
    std::size_t end = pattern_.find('/', start);
    if (end == std::string::npos) end = pattern_.size();
    segments_.push_back(pattern_.substr(start, end - start));
    start = end + 1;
  }
}

bool PathGlob::Matches(std::string_view text) const noexcept {
  if (literal_) return text == pattern_;
  if (matches_everything()) return true;
  // The wildcard algorithm again, one level up: elements are segments, "**" is the star, and an
  // element matches when its single-segment wildcard pattern matches the text's segment.
  const SegmentCursor cur{text};
  const std::size_t end = text.empty() ? 0 : text.size() + 1;  // the empty text has no segments
  const std::size_t m = segments_.size();
  std::size_t p = 0, t = 0;
  std::size_t star = m, mark = 0;
  while (t < end) {
    if (p < m && segments_[p] == "**") {
      star = p++;
      mark = t;
    } else if (p < m && WildcardMatch(segments_[p], cur.At(t))) {
      ++p;
      t = cur.Next(t);
    } else if (star != m) {
      p = star + 1;
      mark = cur.Next(mark);
      t = mark;
    } else {
      return false;
    }
  }
  while (p < m && segments_[p] == "**") ++p;
  return p == m;
}

bool PathGlob::MatchesUnder(std::string_view prefix) const {
  if (prefix.empty() || matches_everything()) return true;
  if (literal_) {
    return pattern_ == prefix || (pattern_.size() > prefix.size() && pattern_.compare(0, prefix.size(), prefix) == 0 &&
                                  pattern_[prefix.size()] == '/');
  }
  // An NFA over the pattern's segments, fed the prefix's segments. A state left when the prefix is
  // consumed is a pattern position: at the end, the prefix itself matches; before it, the remaining
  // segment patterns each match some segment, so some path below the prefix matches.
  const std::size_t m = segments_.size();
  std::vector<char> live(m + 1, 0), next(m + 1, 0);
  auto close = [&](std::vector<char>& states) {
    for (std::size_t i = 0; i < m; ++i) {
      if (states[i] && segments_[i] == "**") states[i + 1] = 1;
    }
  };
  live[0] = 1;
  close(live);
  const SegmentCursor cur{prefix};
  for (std::size_t t = 0; t < prefix.size() + 1; t = cur.Next(t)) {
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (std::size_t i = 0; i < m; ++i) {
      if (!live[i]) continue;
      if (segments_[i] == "**") {
        next[i] = 1;
        any = true;
      } else if (WildcardMatch(segments_[i], cur.At(t))) {
        next[i + 1] = 1;
        any = true;
      }
    }
    if (!any) return false;
    close(next);
    live.swap(next);
  }
  return true;
}

bool PathGlob::Covers(const PathGlob& narrower) const {
  if (matches_everything()) return true;
  // A "**" here absorbs any segments (and a "**" there); a segment pattern here consumes a segment
  // pattern there that it covers.
  return CoversByNfa(
      segments_, narrower.segments_, [](const std::string& s) { return s == "**"; },
      [](const std::string& b, const std::string& t) { return t != "**" && WildcardCovers(b, t); });
}

}  // namespace keyward::policy
