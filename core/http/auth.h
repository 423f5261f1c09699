// Authentication for the endpoint: bearer tokens and client-certificate identities -> principal ids.
//
// Tokens are never stored: the configuration holds SHA-256 hashes ("sha256:<hex>"). A presented token is
// hashed, candidates are found by the first bytes of the hash, and the full 32 bytes are compared in
// constant time (CRYPTO_memcmp). Certificate identities ("CN=...,O=...", "URI:...", "DNS:...") map to
// principals exactly.
//
// A peer that keeps failing is throttled: the `max_failures`-th failure within `window` from one address
// is answered 429 and audited as "throttled", and further attempts from that address are refused (429,
// Retry-After) until `block` has passed, without being checked or audited one by one — so that a flood
// of bad tokens can neither guess on nor flood the audit log. The block is per address: clients behind
// one proxy share it (a deliberate trade-off: checking credentials from a blocked address would give a
// guesser its answers back).
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "core/sha256.h"

namespace keyward::http {

struct PrincipalCredentials {
  std::string id;
  std::vector<Digest> token_hashes;
  std::vector<std::string> certificates;  // identities, as HttpRequest::client_identities spells them
};

// "kw_" + 43 characters of base64url: 256 random bits.
std::string MintToken();
// "sha256:<hex>" of a token, as the configuration holds it.
std::string TokenHashString(std::string_view token);
// Parses "sha256:<64 hex>". InvalidArgument otherwise.
Result<Digest> ParseTokenHash(std::string_view text);

class Authenticator {
 public:
  struct Throttle {
    int max_failures = 10;
    std::chrono::milliseconds window{60'000};
    std::chrono::milliseconds block{60'000};
  };
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  Authenticator(std::vector<PrincipalCredentials> principals, Throttle throttle, Clock clock = nullptr);

  enum class Outcome { kOk, kFailed, kThrottled };
  struct Verdict {
    Outcome outcome = Outcome::kFailed;
    std::string principal;  // kOk
    std::string failure;    // kFailed, and kThrottled when throttle_started: what was wrong, never the token
    bool throttle_started = false;  // kThrottled: this failed attempt crossed the threshold (audit it once)
    std::chrono::milliseconds retry_after{0};  // kThrottled: until the block ends
  };

  // `authorization`: the Authorization header (nullopt if none; when present, even empty, it alone
  // decides); `identities`: the verified certificate's. `peer_address`: the client's address (without
  // port) for throttling.
  Verdict Authenticate(std::optional<std::string_view> authorization, const std::vector<std::string>& identities,
                       const std::string& peer_address);

  // Peers whose failures are remembered (for tests: the memory they cost stays bounded).
  std::size_t tracked_peers();

 private:
  struct Failures {
    std::vector<std::chrono::steady_clock::time_point> times;
    std::optional<std::chrono::steady_clock::time_point> blocked_until;
  };
  // The time left on the peer's block, if it is blocked.
  std::optional<std::chrono::milliseconds> BlockedFor(const std::string& peer, std::chrono::steady_clock::time_point now);
  bool RecordFailure(const std::string& peer, std::chrono::steady_clock::time_point now);  // true: blocking starts

  std::vector<PrincipalCredentials> principals_;
  std::unordered_multimap<std::uint64_t, std::size_t> by_prefix_;  // first 8 hash bytes -> (principal, hash)
  std::vector<std::pair<std::size_t, Digest>> hashes_;
  std::map<std::string, std::size_t> by_identity_;
  Throttle throttle_;
  Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Failures> failures_;
  // Entries of failures_ with a block set. While none is, a request need not take mu_ to learn that its
  // peer is not blocked (the common case: two I/O threads would otherwise contend for it on every request).
  std::atomic<std::size_t> blocked_peers_{0};
  // failures_ is swept of peers with nothing left to remember once it reaches this size, which then
  // becomes twice what is left: memory follows the peers failing within one window, however many
  // addresses an attacker cycles through, at an amortised constant cost per failure.
  static constexpr std::size_t kMinSweep = 1024;
  std::size_t sweep_at_ = kMinSweep;
};

}  // namespace keyward::http
