// Test helper: appends to an audit log as fast as it can from several producer threads and prints
// "ack FIRST LAST" for every acknowledged (durable) append. Tests kill it at random moments.
//
//   audit_appender DB ORIGIN KEYFILE EXPORTFILE PRODUCERS CHECKPOINT_MS
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "audit/store.h"

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: audit_appender DB ORIGIN KEYFILE EXPORTFILE PRODUCERS CHECKPOINT_MS\n");
    return 2;
  }
  keyward::audit::AuditOptions o;
  o.path = argv[1];
  o.origin = argv[2];
  o.signing_key_path = argv[3];
  o.export_path = argv[4];
  o.checkpoint_interval = std::chrono::milliseconds(std::atoi(argv[6]));
  auto log = keyward::audit::AuditLog::Open(o);
  if (!log.has_value()) {
    std::fprintf(stderr, "audit_appender: %s\n", log.error().ToString().c_str());
    return 1;
  }
  std::atomic<long> in_flight{0};
  const int producers = std::atoi(argv[5]);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (long n = 0;; ++n) {
        while (in_flight.load() > 64) std::this_thread::yield();
        keyward::AuditRecord r;
        r.request_id = "p" + std::to_string(p) + "-" + std::to_string(n);
        r.principal = "pipeline-" + std::to_string(p);
        r.action = "resolve";
        r.decision = "allow";
        r.key = "k" + std::to_string(n);
        ++in_flight;
        (*log)->Append({r, r}, [&](keyward::Result<keyward::SeqRange> res) {
          if (res.has_value()) {
            char line[64];
            const int len = std::snprintf(line, sizeof line, "ack %lld %lld\n", static_cast<long long>(res->first),
                                          static_cast<long long>(res->last));
            // One write per line: lines from concurrent completions never interleave.
            if (::write(1, line, static_cast<std::size_t>(len)) != len) std::abort();
          }
          --in_flight;
        });
      }
    });
  }
  for (auto& t : threads) t.join();  // never returns: the test kills this process
  return 0;
}
