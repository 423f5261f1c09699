#include "core/decision.h"

namespace keyward {

std::string_view EffectName(Effect effect) { return effect == Effect::kAllow ? "allow" : "deny"; }

std::string DescribeDecision(const Decision& d) {
  std::string out(EffectName(d.effect));
  switch (d.basis) {
    case Decision::Basis::kRule:
      out += " (rule ";
      out += d.decided_by;
      out += ")";
      break;
    case Decision::Basis::kConstraint:
      out += " (constraint ";
      out += d.decided_by;
      out += ": ";
      out += d.reason;
      out += ")";
      break;
    case Decision::Basis::kNoMatch:
      out += " (no rule matched: default deny)";
      break;
  }
  return out;
}

}  // namespace keyward
