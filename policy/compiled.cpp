#include "policy/compiled.h"

#include <algorithm>
#include <limits>

#include "core/secret_ref.h"

namespace keyward::policy {
namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

Decision ConstraintDecision(const Constraint& c) {
  return Decision{Effect::kDeny, Decision::Basis::kConstraint, c.name, c.reason};
}

void SetBit(std::vector<std::uint64_t>& bits, std::size_t i) { bits[i / 64] |= std::uint64_t{1} << (i % 64); }

}  // namespace

std::shared_ptr<const CompiledPolicy> CompiledPolicy::Compile(Policy policy) {
  return std::shared_ptr<const CompiledPolicy>(new CompiledPolicy(std::move(policy)));
}

CompiledPolicy::CompiledPolicy(Policy policy) : policy_(std::move(policy)) {
  const std::size_t nf = policy_.fabrics.size();
  const std::size_t np = policy_.providers.size();
  const std::size_t fabric_words = (nf + 63) / 64 + 1;
  const std::size_t provider_words = (np + 63) / 64 + 1;

  for (std::size_t i = 0; i < np; ++i) provider_index_.Insert(policy_.providers[i].id, static_cast<std::uint32_t>(i));
  owned_scopes_.resize(np);
  fabrics_.resize(nf);
  for (std::size_t i = 0; i < nf; ++i) {
    const FabricDef& f = policy_.fabrics[i];
    fabric_index_.Insert(f.id, static_cast<std::uint32_t>(i));
    CompiledFabric& cf = fabrics_[i];
    cf.providers.assign(provider_words, 0);
    if (f.managed) cf.scope_folded = FoldCase(f.scope);
    for (const std::string& pid : f.providers) {
      const std::uint32_t pi = provider_index_.Find(pid);
      if (pi == FlatIndex::kMissing) continue;
      SetBit(cf.providers, pi);
      if (f.managed) owned_scopes_[pi].Insert(cf.scope_folded, static_cast<std::uint32_t>(i));
    }
  }

  for (auto& per_action : by_fabric_) per_action.resize(nf);
  rules_.reserve(policy_.rules.size());
  for (std::size_t ri = 0; ri < policy_.rules.size(); ++ri) {
    const RuleDef& r = policy_.rules[ri];
    const auto idx = static_cast<std::uint32_t>(ri);
    CompiledRule cr;
    cr.effect = r.effect;
    cr.actions = r.actions;
    cr.fabrics.assign(fabric_words, 0);
    cr.providers.assign(provider_words, 0);
    for (const std::string& p : r.principals) cr.principals.emplace_back(p);
    for (const std::string& f : r.fabrics) {
      const NameGlob g(f);
      for (std::size_t i = 0; i < nf; ++i) {
        if (g.Matches(policy_.fabrics[i].id)) SetBit(cr.fabrics, i);
      }
    }
    for (const std::string& p : r.providers) {
      const NameGlob g(p);
      for (std::size_t i = 0; i < np; ++i) {
        if (g.Matches(policy_.providers[i].id)) SetBit(cr.providers, i);
      }
    }
    for (const SecretPattern& s : r.secrets) {
      CompiledSecret cs;
      cs.any = s.any;
      cs.scope = PathGlob(s.scope);
      cs.scope_folded = PathGlob(FoldCase(s.scope));
      cs.key = NameGlob(s.key);
      cr.secrets.push_back(std::move(cs));
    }

    // Index: literal principals by name; principal globs by fabric.
    for (const Action a : kAllActions) {
      if (!(r.actions & ActionBit(a))) continue;
      const auto ai = static_cast<std::size_t>(a);
      for (const NameGlob& p : cr.principals) {
        if (!p.is_literal()) continue;
        const auto slot = principal_index_.Insert(p.pattern(), static_cast<std::uint32_t>(by_principal_.size()));
        if (slot == by_principal_.size()) by_principal_.emplace_back();
        Bucket& b = by_principal_[slot][ai];
        auto& list = r.effect == Effect::kDeny ? b.deny : b.allow;
        if (list.empty() || list.back() != idx) list.push_back(idx);
      }
      for (const NameGlob& p : cr.principals) {
        if (p.is_literal()) continue;
        GlobEntry entry;
        entry.rule = idx;
        for (std::size_t pi = 0; pi < np; ++pi) {
          if (Test(cr.providers, static_cast<std::uint32_t>(pi))) entry.providers |= std::uint64_t{1} << (pi % 64);
        }
        const std::string_view prefix = std::string_view(p.pattern()).substr(0, p.pattern().find('*'));
        entry.prefix_len = static_cast<std::uint8_t>(std::min(prefix.size(), sizeof entry.prefix));
        prefix.copy(entry.prefix, entry.prefix_len);
        for (std::size_t fi = 0; fi < nf; ++fi) {
          if (!Test(cr.fabrics, static_cast<std::uint32_t>(fi))) continue;
          GlobBucket& b = by_fabric_[ai][fi];
          (r.effect == Effect::kDeny ? b.deny : b.allow).push_back(entry);
        }
      }
    }
    rules_.push_back(std::move(cr));
  }
}

const Constraint* CompiledPolicy::Resolve(const AccessRequest& req, Context* ctx, char* fold,
                                          Status* ref_status) const {
  const std::uint32_t fi = fabric_index_.Find(req.fabric);
  if (fi == FlatIndex::kMissing) return &constraint::kUnknownFabric;
  const std::uint32_t pi = provider_index_.Find(req.provider);
  if (pi == FlatIndex::kMissing) return &constraint::kUnknownProvider;
  const ProviderType type = policy_.providers[pi].type;
  if (Status s = ValidateSecretRef(type, req.scope, req.key); !s.ok()) {
    if (ref_status != nullptr) *ref_status = std::move(s);
    return &constraint::kInvalidSecretRef;
  }
  ctx->fabric = fi;
  ctx->provider = pi;
  ctx->type = type;
  ctx->principal = req.principal;
  ctx->key = req.key;
  ctx->action = req.action;
  ctx->scope = req.scope;
  if (type == ProviderType::kDatabricks) {
    // Databricks scope names are case-insensitive. The ref is valid, so it is ASCII and fits.
    for (std::size_t i = 0; i < req.scope.size(); ++i) {
      const char c = req.scope[i];
      fold[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    ctx->scope = std::string_view(fold, req.scope.size());
  }
  return nullptr;
}

const Constraint* CompiledPolicy::Constrain(const Context& ctx) const {
  const FabricDef& fabric = policy_.fabrics[ctx.fabric];
  // Defence in depth: the loader already refuses fabrics that list a provider against these rules.
  if (const Constraint* c = ProviderTypeConstraint(ctx.type, fabric.kind, fabric.managed)) return c;
  if (!Test(fabrics_[ctx.fabric].providers, ctx.provider)) return &constraint::kProviderNotOnFabric;
  if (const Constraint* c = ActionConstraint(ctx.type, ctx.action)) return c;
  if (ctx.type == ProviderType::kDatabricks) {
    if (fabric.managed && ctx.scope != fabrics_[ctx.fabric].scope_folded) return &constraint::kManagedOwnScope;
    const FlatIndex& owners = owned_scopes_[ctx.provider];
    if (!owners.empty()) {
      const std::uint32_t owner = owners.Find(ctx.scope);
      if (owner != FlatIndex::kMissing && owner != ctx.fabric) return &constraint::kScopeOwnedByManagedFabric;
    }
  }
  return nullptr;
}

const Constraint* CompiledPolicy::Check(const AccessRequest& req, Context* ctx, char* fold) const {
  if (const Constraint* c = Resolve(req, ctx, fold, nullptr)) return c;
  return Constrain(*ctx);
}

bool CompiledPolicy::Matches(const CompiledRule& rule, const Context& ctx) const {
  if (!(rule.actions & ActionBit(ctx.action))) return false;
  if (!Test(rule.fabrics, ctx.fabric) || !Test(rule.providers, ctx.provider)) return false;
  bool principal = false;
  for (const NameGlob& p : rule.principals) {
    if (p.Matches(ctx.principal)) {
      principal = true;
      break;
    }
  }
  if (!principal) return false;
  const bool folded = ctx.type == ProviderType::kDatabricks;
  for (const CompiledSecret& s : rule.secrets) {
    if (s.any || ((folded ? s.scope_folded : s.scope).Matches(ctx.scope) && s.key.Matches(ctx.key))) return true;
  }
  return false;
}

Decision CompiledPolicy::RuleDecision(std::uint32_t rule_index) const {
  const RuleDef& r = policy_.rules[rule_index];
  return Decision{r.effect, Decision::Basis::kRule, r.id, r.description};
}

std::uint32_t CompiledPolicy::FirstMatch(const std::vector<std::uint32_t>* literal, const std::vector<GlobEntry>& glob,
                                         const Context& ctx) const {
  std::size_t i = 0, j = 0;
  const std::size_t na = literal ? literal->size() : 0, nb = glob.size();
  while (i < na || j < nb) {
    std::uint32_t next;
    if (j >= nb || (i < na && (*literal)[i] <= glob[j].rule)) {
      next = (*literal)[i++];
    } else {
      const GlobEntry& e = glob[j++];
      if (((e.providers >> (ctx.provider % 64)) & 1u) == 0) continue;
      if (ctx.principal.size() < e.prefix_len || ctx.principal.compare(0, e.prefix_len, e.prefix, e.prefix_len) != 0) {
        continue;
      }
      next = e.rule;
    }
    if (Matches(rules_[next], ctx)) return next;
  }
  return kNone;
}

Decision CompiledPolicy::Decide(const AccessRequest& req) const {
  Context ctx;
  char fold[kMaxDatabricksName];
  if (const Constraint* c = Check(req, &ctx, fold)) return ConstraintDecision(*c);
  const auto ai = static_cast<std::size_t>(req.action);
  const std::uint32_t pslot = principal_index_.Find(req.principal);
  const Bucket* lit = pslot == FlatIndex::kMissing ? nullptr : &by_principal_[pslot][ai];
  const GlobBucket& glob = by_fabric_[ai][ctx.fabric];
  if (const auto d = FirstMatch(lit ? &lit->deny : nullptr, glob.deny, ctx); d != kNone) return RuleDecision(d);
  if (const auto a = FirstMatch(lit ? &lit->allow : nullptr, glob.allow, ctx); a != kNone) return RuleDecision(a);
  return Decision{};
}

Decision CompiledPolicy::DecideScope(const AccessRequest& req) const {
  const std::uint32_t fi = fabric_index_.Find(req.fabric);
  if (fi == FlatIndex::kMissing) return ConstraintDecision(constraint::kUnknownFabric);
  const std::uint32_t pi = provider_index_.Find(req.provider);
  if (pi == FlatIndex::kMissing) return ConstraintDecision(constraint::kUnknownProvider);
  const ProviderType type = policy_.providers[pi].type;
  const bool every_scope = type == ProviderType::kDatabricks && req.scope.empty();
  if (!every_scope && !ValidateScope(type, req.scope).ok()) return ConstraintDecision(constraint::kInvalidSecretRef);
  Context ctx;
  ctx.fabric = fi;
  ctx.provider = pi;
  ctx.type = type;
  ctx.principal = req.principal;
  ctx.action = req.action;
  const std::string folded = type == ProviderType::kDatabricks ? FoldCase(req.scope) : std::string(req.scope);
  ctx.scope = folded;
  if (const Constraint* c = Constrain(ctx)) return ConstraintDecision(*c);
  auto applies = [&](const CompiledRule& rule) {
    return (rule.actions & ActionBit(ctx.action)) && Test(rule.fabrics, fi) && Test(rule.providers, pi) &&
           std::any_of(rule.principals.begin(), rule.principals.end(),
                       [&](const NameGlob& p) { return p.Matches(ctx.principal); });
  };
  auto glob = [&](const CompiledSecret& sec) -> const PathGlob& {
    return type == ProviderType::kDatabricks ? sec.scope_folded : sec.scope;
  };
  // A deny rule that covers every key in the scope and below it denies the scope as a whole (Covers is
  // conservative: when it cannot tell, the keys are decided one by one, as always). Databricks scopes
  // are flat, one segment, nothing below: covering the scope is enough, and covering every scope (`*`)
  // denies listing them all.
  const bool flat = type == ProviderType::kDatabricks;
  const PathGlob here(ctx.scope.empty() ? std::string(flat ? "*" : "") : std::string(ctx.scope));
  const PathGlob below(ctx.scope.empty() ? std::string("**") : std::string(ctx.scope) + "/**");
  for (std::uint32_t i = 0; i < rules_.size(); ++i) {
    const CompiledRule& rule = rules_[i];
    if (rule.effect != Effect::kDeny || !applies(rule)) continue;
    for (const CompiledSecret& sec : rule.secrets) {
      if (sec.any || (sec.key.matches_everything() && glob(sec).Covers(here) && (flat || glob(sec).Covers(below)))) {
        return RuleDecision(i);
      }
    }
  }
  for (std::uint32_t i = 0; i < rules_.size(); ++i) {
    const CompiledRule& rule = rules_[i];
    if (rule.effect != Effect::kAllow || !applies(rule)) continue;
    for (const CompiledSecret& sec : rule.secrets) {
      if (sec.any || glob(sec).MatchesUnder(ctx.scope)) return RuleDecision(i);
    }
  }
  return Decision{};
}

CompiledPolicy::Explanation CompiledPolicy::Explain(const AccessRequest& req) const {
  Explanation ex;
  Context ctx;
  char fold[kMaxDatabricksName];
  ex.constraint = Resolve(req, &ctx, fold, &ex.ref_status);
  if (ex.constraint != nullptr) {
    ex.decision = ConstraintDecision(*ex.constraint);
    return ex;
  }
  ex.constraint = Constrain(ctx);
  // Every matching rule is listed, even when a constraint denies regardless of them.
  std::uint32_t first_deny = kNone, first_allow = kNone;
  for (std::uint32_t i = 0; i < rules_.size(); ++i) {
    if (!Matches(rules_[i], ctx)) continue;
    ex.matched_rules.push_back(i);
    std::uint32_t& first = rules_[i].effect == Effect::kDeny ? first_deny : first_allow;
    if (first == kNone) first = i;
  }
  if (ex.constraint != nullptr) {
    ex.decision = ConstraintDecision(*ex.constraint);
  } else if (first_deny != kNone) {
    ex.decision = RuleDecision(first_deny);
  } else if (first_allow != kNone) {
    ex.decision = RuleDecision(first_allow);
  }
  return ex;
}

std::vector<Authorizer::FabricInfo> CompiledPolicy::FabricsFor(std::string_view principal) const {
  std::vector<FabricInfo> out;
  for (std::uint32_t fi = 0; fi < fabrics_.size(); ++fi) {
    const FabricDef& f = policy_.fabrics[fi];
    FabricInfo info{f.id, std::string(FabricKindName(f.kind)), f.managed, {}};
    for (std::uint32_t pi = 0; pi < policy_.providers.size(); ++pi) {
      if (!Test(fabrics_[fi].providers, pi)) continue;
      const ProviderType type = policy_.providers[pi].type;
      if (ProviderTypeConstraint(type, f.kind, f.managed) != nullptr) continue;
      bool granted = false;
      for (const CompiledRule& r : rules_) {
        if (r.effect != Effect::kAllow || !Test(r.fabrics, fi) || !Test(r.providers, pi)) continue;
        for (const NameGlob& p : r.principals) granted = granted || p.Matches(principal);
        if (granted) break;
      }
      if (granted) info.providers.push_back({policy_.providers[pi].id, type});
    }
    if (!info.providers.empty()) out.push_back(std::move(info));
  }
  return out;
}

std::optional<ProviderType> CompiledPolicy::ProviderTypeOf(std::string_view id) const {
  const std::uint32_t pi = provider_index_.Find(id);
  if (pi == FlatIndex::kMissing) return std::nullopt;
  return policy_.providers[pi].type;
}

Decision CompiledPolicy::DecideByScan(const AccessRequest& req) const {
  Context ctx;
  char fold[kMaxDatabricksName];
  if (const Constraint* c = Check(req, &ctx, fold)) return ConstraintDecision(*c);
  std::uint32_t first_allow = kNone;
  for (std::uint32_t i = 0; i < rules_.size(); ++i) {
    if (!Matches(rules_[i], ctx)) continue;
    if (rules_[i].effect == Effect::kDeny) return RuleDecision(i);
    if (first_allow == kNone) first_allow = i;
  }
  return first_allow == kNone ? Decision{} : RuleDecision(first_allow);
}

}  // namespace keyward::policy
