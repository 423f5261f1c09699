#include "core/http/auth.h"

#include <algorithm>
#include <openssl/rand.h>

#include <cstring>

#include "core/secret_value.h"

namespace keyward::http {
namespace {

std::uint64_t Prefix(const Digest& d) {
  std::uint64_t v = 0;
  std::memcpy(&v, d.data(), sizeof v);
  return v;
}

}  // namespace

std::string MintToken() {
  std::uint8_t bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    std::fprintf(stderr, "keyward: fatal: no randomness for a token\n");
    std::abort();
  }
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out = "kw_";
  std::uint32_t acc = 0;
  int bits = 0;
  for (const std::uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      out += kAlphabet[(acc >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  WipeMemory(bytes, sizeof bytes);
  return out;
}

std::string TokenHashString(std::string_view token) { return "sha256:" + ToHex(Sha256(token)); }

Result<Digest> ParseTokenHash(std::string_view text) {
  if (text.rfind("sha256:", 0) != 0 || text.size() != 7 + 64) {
    return Status::InvalidArgument("a token hash is \"sha256:\" followed by 64 hex digits");
  }
  Digest d{};
  for (std::size_t i = 0; i < 32; ++i) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = nibble(text[7 + 2 * i]), lo = nibble(text[8 + 2 * i]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument("a token hash is \"sha256:\" followed by 64 lower-case hex digits");
    d[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return d;
}

Authenticator::Authenticator(std::vector<PrincipalCredentials> principals, Throttle throttle, Clock clock)
    : principals_(std::move(principals)), throttle_(throttle), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
  for (std::size_t p = 0; p < principals_.size(); ++p) {
    for (const Digest& h : principals_[p].token_hashes) {
      by_prefix_.emplace(Prefix(h), hashes_.size());
      hashes_.emplace_back(p, h);
    }
    for (const std::string& id : principals_[p].certificates) by_identity_.emplace(id, p);
  }
}

std::optional<std::chrono::milliseconds> Authenticator::BlockedFor(const std::string& peer,
                                                                   std::chrono::steady_clock::time_point now) {
  auto it = failures_.find(peer);
  if (it == failures_.end() || !it->second.blocked_until) return std::nullopt;
  if (now < *it->second.blocked_until) {
    return std::chrono::ceil<std::chrono::milliseconds>(*it->second.blocked_until - now);
  }
  failures_.erase(it);  // the block is over: a clean slate
  blocked_peers_.fetch_sub(1, std::memory_order_relaxed);
  return std::nullopt;
}

bool Authenticator::RecordFailure(const std::string& peer, std::chrono::steady_clock::time_point now) {
  if (failures_.size() >= sweep_at_) {
    std::erase_if(failures_, [&](const auto& entry) {
      const Failures& f = entry.second;
      if (f.blocked_until) {
        if (now < *f.blocked_until) return false;
        blocked_peers_.fetch_sub(1, std::memory_order_relaxed);  // a block that is over
        return true;
      }
      return f.times.empty() || now - f.times.back() > throttle_.window;
    });
    sweep_at_ = std::max(kMinSweep, 2 * failures_.size());
  }
  Failures& f = failures_[peer];
  std::erase_if(f.times, [&](auto t) { return now - t > throttle_.window; });
  f.times.push_back(now);
  if (static_cast<int>(f.times.size()) >= throttle_.max_failures) {
    if (!f.blocked_until) blocked_peers_.fetch_add(1, std::memory_order_release);
    f.blocked_until = now + throttle_.block;
    f.times.clear();
    return true;
  }
  return false;
}

std::size_t Authenticator::tracked_peers() {
  std::lock_guard lk(mu_);
  return failures_.size();
}

Authenticator::Verdict Authenticator::Authenticate(std::optional<std::string_view> authorization,
                                                   const std::vector<std::string>& identities,
                                                   const std::string& peer_address) {
  const auto now = clock_();
  Verdict v;
  if (blocked_peers_.load(std::memory_order_acquire) > 0) {
    std::lock_guard lk(mu_);
    if (const auto left = BlockedFor(peer_address, now)) {
      v.outcome = Outcome::kThrottled;
      v.retry_after = *left;
      return v;
    }
  }
  std::optional<std::size_t> found;
  if (authorization.has_value()) {
    // RFC 9110 §11.1: the scheme is case-insensitive, followed by one or more spaces.
    constexpr std::string_view kBearer = "bearer";
    std::string_view rest = *authorization;
    bool bearer = rest.size() > kBearer.size() && rest[kBearer.size()] == ' ';
    for (std::size_t i = 0; bearer && i < kBearer.size(); ++i) {
      bearer = (rest[i] | 0x20) == kBearer[i];
    }
    if (bearer) {
      rest.remove_prefix(kBearer.size());
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    }
    if (!bearer || rest.empty()) {
      v.failure = "the Authorization header is not \"Bearer <token>\"";
    } else {
      const Digest presented = Sha256(rest);
      auto [lo, hi] = by_prefix_.equal_range(Prefix(presented));
      for (auto it = lo; it != hi; ++it) {
        const auto& [principal, hash] = hashes_[it->second];
        if (ConstantTimeEquals(presented, hash)) found = principal;
      }
      if (!found) v.failure = "unknown token";
    }
  } else if (!identities.empty()) {
    // Every identity is looked at: a certificate that names two principals (the subject one, a SAN
    // another) means neither.
    bool ambiguous = false;
    for (const std::string& id : identities) {
      if (auto it = by_identity_.find(id); it != by_identity_.end()) {
        if (found && *found != it->second) ambiguous = true;
        found = it->second;
      }
    }
    if (ambiguous) {
      found.reset();
      v.failure = "the client certificate maps to more than one principal";
    } else if (!found) {
      v.failure = "the client certificate maps to no principal";
    }
  } else {
    v.failure = "no credentials: send \"Authorization: Bearer <token>\" or a client certificate";
  }
  if (found) {
    v.outcome = Outcome::kOk;
    v.principal = principals_[*found].id;
    return v;
  }
  std::lock_guard lk(mu_);
  if (RecordFailure(peer_address, now)) {
    v.outcome = Outcome::kThrottled;
    v.throttle_started = true;
    v.retry_after = throttle_.block;
  } else {
    v.outcome = Outcome::kFailed;
  }
  return v;
}

}  // namespace keyward::http
