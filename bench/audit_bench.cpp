// Audit log benchmarks, each against a baseline measured in the same run (DESIGN.md §8):
//
//   Append: durable appends through AuditLog (group commit) with 1, 8 and 64 closed-loop asynchronous
//           producers running on their own thread (as the server's handlers run on its I/O threads:
//           each completion posts that producer's next append there). Baselines, plain SQLite inserting
//           rows of the same size (WAL, synchronous=FULL, one prepared statement, one thread):
//             (a) in transactions of the average size the audit log achieved in the same run — this
//                 isolates what the log itself costs (encoding, hashing, chain and tree, threads);
//             (b) in transactions of as many rows as there are producers.
//           Target: >= 0.9x.
//   Verify: VerifyLog over a 200,000-entry log, against one SHA-256 per entry over the same bytes in
//           memory. Target (DESIGN.md): >= 1.5 M entries/s on one core.
//
//   KEYWARD_BENCH_DIR=/path/on/a/real/disk build/release/bin/audit_bench
//
// The database lives on disk (KEYWARD_BENCH_DIR, default the working directory): fsync must be real.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/recording_reporter.h"
#include "audit/entry.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/store.h"
#include "audit/verifier.h"

namespace {

namespace fs = std::filesystem;
using keyward::AuditRecord;
using keyward::audit::AuditLog;
using keyward::audit::AuditOptions;

std::string BenchDir() {
  const char* env = std::getenv("KEYWARD_BENCH_DIR");
  fs::path dir = fs::path(env != nullptr ? env : ".") / ("keyward-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir.string();
}

const std::string& Dir() {
  static const std::string dir = BenchDir();
  return dir;
}

AuditRecord Realistic(long n) {
  AuditRecord r;
  r.request_id = "01JEX" + std::to_string(100000000 + n);
  r.principal = "pipeline-etl-daily";
  r.fabric = "emr-etl";
  r.provider = "vault";
  r.provider_type = "vault";
  r.scope = "secret/data-eng/snowflake";
  r.key = "password";
  r.action = "resolve";
  r.decision = "allow";
  r.reason = "rule:etl-reads-snowflake";
  r.policy = "e2da45173e969115bb7b88af01dfe75e7c3f413ea44bef00ee73a7fb4378f574";
  r.peer = "10.1.2.3:52144";
  return r;
}

std::string KeyFile() {
  static const std::string path = [] {
    const std::string p = Dir() + "/bench.key";
    auto key = keyward::audit::SigningKey::Generate("bench.keyward/log");
    if (!key.has_value() || !key->Save(p).ok()) std::abort();
    return p;
  }();
  return path;
}

std::size_t EntrySize() {
  keyward::audit::Entry e{123456, "2026-12-04T09:00:01.250000Z", Realistic(123456)};
  return keyward::audit::EncodeEntry(e)->size();
}

// A thread that runs posted tasks in order, standing in for a server I/O thread.
class IoThread {
 public:
  IoThread() : thread_([this] { Run(); }) {}
  ~IoThread() {
    Post({});
    thread_.join();
  }
  void Post(std::function<void()> task) {
    std::lock_guard lk(mu_);
    tasks_.push_back(std::move(task));
    cv_.notify_one();
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      if (!task) return;
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::thread thread_;
};

std::map<int, double>& AchievedBatch() {
  static std::map<int, double> m;
  return m;
}

// Durable appends through the audit log from `producers` closed-loop asynchronous producers.
void BM_AuditAppend(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0));
  const int per_producer = producers == 1 ? 300 : 4000 / producers + 50;
  long total = 0;
  int run = 0;
  for (auto _ : state) {
    state.PauseTiming();
    AuditOptions o;
    o.path = Dir() + "/append-" + std::to_string(producers) + "-" + std::to_string(run++) + ".db";
    o.origin = "bench.keyward/log";
    o.signing_key_path = KeyFile();
    o.checkpoint_interval = std::chrono::hours(1);
    o.log = [](const std::string&) {};
    auto log = AuditLog::Open(o);
    if (!log.has_value()) {
      state.SkipWithError(log.error().ToString().c_str());
      return;
    }
    state.ResumeTiming();
    // Closed-loop asynchronous producers on their own thread, as the server's request handlers run on its
    // I/O threads: each completion posts that producer's next append to the producers' thread, which
    // builds the record and appends it.
    IoThread io;
    std::mutex mu;
    std::condition_variable cv;
    int finished = 0;
    std::function<void(int, int)> next = [&](int p, int i) {
      if (i == per_producer) {
        std::lock_guard lk(mu);
        if (++finished == producers) cv.notify_one();
        return;
      }
      (*log)->Append({Realistic(p * 100000 + i)}, [&, p, i](keyward::Result<keyward::SeqRange> r) {
        if (!r.has_value()) std::abort();
        io.Post([&next, p, i] { next(p, i + 1); });
      });
    };
    for (int p = 0; p < producers; ++p) io.Post([&next, p] { next(p, 0); });
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return finished == producers; });
    }
    state.PauseTiming();
    const auto stats = (*log)->Stats();
    state.counters["avg_batch"] = static_cast<double>(stats.committed_entries) / static_cast<double>(stats.batches);
    AchievedBatch()[producers] = state.counters["avg_batch"];
    (void)(*log)->Close();
    fs::remove(o.path);
    fs::remove(o.path + "-wal");
    fs::remove(o.path + "-shm");
    state.ResumeTiming();
    total += static_cast<long>(producers) * per_producer;
  }
  state.SetItemsProcessed(total);
}

// Plain SQLite: rows of the same size, WAL + synchronous=FULL, in transactions of range(0) rows, or (when
// range(1) is 1) of the average batch the audit log achieved with range(0) producers.
void BM_SqliteBatchedInsert(benchmark::State& state) {
  int batch = static_cast<int>(state.range(0));
  if (state.range(1) == 1) {
    auto it = AchievedBatch().find(batch);
    batch = it == AchievedBatch().end() ? batch : std::max(1, static_cast<int>(it->second + 0.5));
  }
  state.counters["batch"] = batch;
  const int rows = batch == 1 ? 300 : (4000 / batch + 50) * batch;
  const std::string entry(EntrySize(), 'x');
  const std::string chain(32, 'c');
  long total = 0;
  int run = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string path = Dir() + "/plain-" + std::to_string(batch) + "-" + std::to_string(run++) + ".db";
    {
      SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      db.exec("PRAGMA journal_mode=WAL");
      db.exec("PRAGMA synchronous=FULL");
      db.exec("CREATE TABLE entries(seq INTEGER PRIMARY KEY, entry BLOB NOT NULL, chain BLOB NOT NULL)");
      SQLite::Statement ins(db, "INSERT INTO entries(seq, entry, chain) VALUES(?, ?, ?)");
      state.ResumeTiming();
      for (int i = 0; i < rows;) {
        SQLite::Transaction tx(db);
        for (int k = 0; k < batch && i < rows; ++k, ++i) {
          ins.bind(1, i + 1);
          ins.bindNoCopy(2, entry.data(), static_cast<int>(entry.size()));
          ins.bindNoCopy(3, chain.data(), 32);
          ins.exec();
          ins.reset();
        }
        tx.commit();
      }
      state.PauseTiming();
    }
    fs::remove(path);
    fs::remove(path + "-wal");
    fs::remove(path + "-shm");
    state.ResumeTiming();
    total += rows;
  }
  state.SetItemsProcessed(total);
}

constexpr long kVerifyEntries = 200000;

const std::string& VerifyDb() {
  static const std::string path = [] {
    const std::string p = Dir() + "/verify.db";
    AuditOptions o;
    o.path = p;
    o.origin = "bench.keyward/log";
    o.signing_key_path = KeyFile();
    o.checkpoint_interval = std::chrono::hours(1);
    o.log = [](const std::string&) {};
    auto log = AuditLog::Open(o);
    if (!log.has_value()) std::abort();
    std::atomic<long> done{0};
    for (long i = 0; i < kVerifyEntries; i += 100) {
      std::vector<AuditRecord> records;
      for (long k = 0; k < 100; ++k) records.push_back(Realistic(i + k));
      (*log)->Append(std::move(records), [&](keyward::Result<keyward::SeqRange>) { ++done; });
      if (i % 100000 == 0) (void)(*log)->CheckpointNow();
    }
    (void)(*log)->Close();
    return p;
  }();
  return path;
}

void BM_Verify(benchmark::State& state) {
  const std::string& db = VerifyDb();
  keyward::audit::VerifyOptions o;
  auto key = keyward::audit::SigningKey::Load(KeyFile());
  o.trusted_keys = {key->verifier()};
  for (auto _ : state) {
    auto r = keyward::audit::VerifyLog(db, o);
    if (!r.has_value() || !r->ok()) {
      state.SkipWithError("verification failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kVerifyEntries);
}

// One SHA-256 per entry over the same bytes, from memory: the floor a verifier is compared with.
void BM_RawSha256(benchmark::State& state) {
  std::vector<std::string> entries;
  for (long i = 0; i < 20000; ++i) {
    entries.push_back(*keyward::audit::EncodeEntry(
        keyward::audit::Entry{i + 1, "2026-12-04T09:00:01.250000Z", Realistic(i)}));
  }
  for (auto _ : state) {
    for (const auto& e : entries) benchmark::DoNotOptimize(keyward::Sha256(e));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<long>(entries.size()));
}

// Every hash the format needs per entry (entry hash, chain, leaf, and one tree node), from memory.
void BM_FormatHashes(benchmark::State& state) {
  std::vector<std::string> entries;
  for (long i = 0; i < 20000; ++i) {
    entries.push_back(*keyward::audit::EncodeEntry(
        keyward::audit::Entry{i + 1, "2026-12-04T09:00:01.250000Z", Realistic(i)}));
  }
  for (auto _ : state) {
    keyward::Digest chain{};
    keyward::audit::CompactRange tree;
    for (const auto& e : entries) {
      chain = keyward::audit::ChainNext(chain, keyward::audit::EntryHash(e));
      tree.Append(keyward::audit::LeafHash(e));
    }
    benchmark::DoNotOptimize(chain);
    benchmark::DoNotOptimize(tree.Root());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<long>(entries.size()));
}

BENCHMARK(BM_AuditAppend)->Arg(1)->Arg(8)->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_SqliteBatchedInsert)
    ->ArgsProduct({{1, 8, 64}, {1, 0}})
    ->ArgNames({"producers", "achieved"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK(BM_Verify)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_RawSha256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FormatHashes)->Unit(benchmark::kMillisecond);

void PrintRatios(const keyward::bench::RecordingReporter& r) {
  std::printf("\nentry size %zu bytes\n%-10s %14s %12s %22s %7s %22s %7s\n", EntrySize(), "producers",
              "log entries/s", "log batch", "plain, same batch /s", "ratio", "plain, batch=P /s", "ratio");
  for (const int p : {1, 8, 64}) {
    const std::string ps = std::to_string(p);
    const double a = r.Rate("BM_AuditAppend/" + ps + "/iterations:3/real_time");
    const double same = r.Rate("BM_SqliteBatchedInsert/producers:" + ps + "/achieved:1/iterations:3/real_time");
    const double full = r.Rate("BM_SqliteBatchedInsert/producers:" + ps + "/achieved:0/iterations:3/real_time");
    const auto it = AchievedBatch().find(p);
    if (a > 0 && same > 0 && full > 0) {
      std::printf("%-10d %14.0f %12.1f %22.0f %6.2fx %22.0f %6.2fx\n", p, a,
                  it == AchievedBatch().end() ? 0.0 : it->second, same, a / same, full, a / full);
    }
  }
  const double v = r.Rate("BM_Verify/iterations:3"), s = r.Rate("BM_RawSha256"), h = r.Rate("BM_FormatHashes");
  if (v > 0 && s > 0) {
    std::printf("\nverify %.0f entries/s; one SHA-256 per entry %.0f/s (ratio %.2fx); all the format's hashes "
                "%.0f entries/s (ratio %.2fx)\n",
                v, s, v / s, h, h > 0 ? v / h : 0.0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int rc = keyward::bench::RunBenchmarks(argc, argv, PrintRatios);
  fs::remove_all(Dir());
  return rc;
}
