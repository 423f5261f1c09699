// IoRuntime: one io_context and the one thread that runs it, for outbound provider calls.
//
// Provider adapters and their HTTP clients do all their network I/O and call every completion on this
// thread, so the server's own I/O threads never block on a provider: they hand an operation over and
// get the result posted back. One runtime may serve several clients (a server usually shares one
// between all its providers: a single thread multiplexes thousands of outbound connections).
//
// Lifetime: the runtime lives as long as the last shared_ptr to it. Its destructor lets queued and
// in-flight work finish (clients cancel theirs on destruction), then joins the thread — or, when the
// last reference is dropped on the runtime's own thread, detaches it and lets it wind down by itself.
//
// Thread-safety: Post and RunningInThisThread may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace keyward::http {

class IoRuntime {
 public:
  // Starts the thread.
  static std::shared_ptr<IoRuntime> Start();
  ~IoRuntime();
  IoRuntime(const IoRuntime&) = delete;
  IoRuntime& operator=(const IoRuntime&) = delete;

  // Runs `fn` on the runtime's thread, later (never inside this call).
  void Post(std::function<void()> fn);
  bool RunningInThisThread() const;

  // For providers/http internals: the io_context the thread runs.
  boost::asio::io_context& context();

  struct Impl;

 private:
  explicit IoRuntime(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// A one-shot timer whose callback runs on a runtime's thread. Used for work nobody waits for, such as
// renewing a token before it expires. The runtime must outlive the timer.
//
// Thread-safety: At and Cancel may be called from any thread; they take effect in call order.
class IoTimer {
 public:
  explicit IoTimer(IoRuntime& runtime);
  // Cancels.
  ~IoTimer();
  IoTimer(const IoTimer&) = delete;
  IoTimer& operator=(const IoTimer&) = delete;

  // Runs `fn` at `when` (steady clock), replacing any callback still pending.
  void At(std::chrono::steady_clock::time_point when, std::function<void()> fn);
  // Drops the pending callback, if any: it will not run.
  void Cancel();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace keyward::http
