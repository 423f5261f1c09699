-- wrk script: POST one resolve of one secret, identical for keyward and nginx.
-- KEYWARD_BENCH_TOKEN is the bearer token (nginx ignores it).
wrk.method = "POST"
wrk.body = '{"fabric":"bench","secrets":[{"provider":"env","key":"BENCH_DB_PASSWORD"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("KEYWARD_BENCH_TOKEN") or "none")

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d errors=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
