// Decision: the Authorizer's answer for one access, and what decided it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/vocabulary.h"

namespace keyward {

enum class Effect : std::uint8_t { kDeny, kAllow };
std::string_view EffectName(Effect effect);  // "deny", "allow"

struct Decision {
  enum class Basis : std::uint8_t {
    kRule,        // a policy rule decided; `decided_by` is its id
    kConstraint,  // a built-in constraint denied; `decided_by` is the constraint's name
    kNoMatch,     // no rule matched: default deny; `decided_by` is empty
  };

  Effect effect = Effect::kDeny;
  Basis basis = Basis::kNoMatch;
  // Borrowed from the Authorizer that made the decision (or static): valid while it lives.
  std::string_view decided_by;
  std::string_view reason;  // one human sentence

  bool allowed() const { return effect == Effect::kAllow; }
};

// One access to decide. Views borrowed from the caller for the duration of the call.
struct AccessRequest {
  std::string_view principal;
  std::string_view fabric;
  std::string_view provider;  // provider instance id
  std::string_view scope;
  std::string_view key;
  Action action = Action::kResolve;
};

// "allow (rule etl-read-snowflake)", "deny (constraint read-only-provider: ...)",
// "deny (no rule matched: default deny)".
std::string DescribeDecision(const Decision& decision);

}  // namespace keyward
