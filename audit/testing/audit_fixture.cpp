#include "audit/testing/audit_fixture.h"

#include <SQLiteCpp/Database.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace keyward::audit::testing {

AuditFixture::AuditFixture(std::string origin) : origin_(std::move(origin)) {
  auto key = SigningKey::Generate(origin_);
  if (!key.has_value() || !key->Save(key_path()).ok()) {
    std::fprintf(stderr, "AuditFixture: cannot create a signing key\n");
    std::abort();
  }
  verifier_ = key->verifier();
}

AuditOptions AuditFixture::Options() const {
  AuditOptions o;
  o.path = db();
  o.origin = origin_;
  o.signing_key_path = key_path();
  o.export_path = export_path();
  o.checkpoint_interval = std::chrono::hours(1);
  auto clock = std::make_shared<std::atomic<std::int64_t>>(1767225600000000);  // 2026-01-01T00:00:00Z
  o.now_micros = [clock] { return clock->fetch_add(1000000); };
  o.log = [](const std::string&) {};
  return o;
}

AuditRecord Record(int n, std::string action) {
  AuditRecord r;
  r.request_id = "req-" + std::to_string(n);
  r.principal = "pipeline-etl";
  r.fabric = "emr-etl";
  r.provider = "vault";
  r.provider_type = "vault";
  r.scope = "secret/data-eng/snowflake";
  r.key = "password-" + std::to_string(n);
  r.action = std::move(action);
  r.decision = "allow";
  r.reason = "rule:etl-reads-snowflake";
  r.policy = "e2da45173e969115bb7b88af01dfe75e7c3f413ea44bef00ee73a7fb4378f574";
  r.peer = "127.0.0.1:40000";
  return r;
}

Result<SeqRange> AppendAndWait(AuditSink& sink, std::vector<AuditRecord> records) {
  auto promise = std::make_shared<std::promise<Result<SeqRange>>>();
  auto future = promise->get_future();
  sink.Append(std::move(records), [promise](Result<SeqRange> r) { promise->set_value(std::move(r)); });
  return future.get();
}

void Sql(const std::string& db_path, const std::string& sql) {
  SQLite::Database db(db_path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.setBusyTimeout(5000);
  db.exec(sql);
}

}  // namespace keyward::audit::testing
