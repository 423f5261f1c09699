#include "providers/http/runtime.h"

#include <cstdio>
#include <exception>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace keyward::http {

namespace net = boost::asio;

struct IoRuntime::Impl {
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread;
  std::thread::id thread_id;
};

std::shared_ptr<IoRuntime> IoRuntime::Start() {
  auto impl = std::make_shared<Impl>();
  // The thread holds the Impl too, so the io_context outlives run() even when the runtime is
  // released on its own thread (see ~IoRuntime).
  impl->thread = std::thread([impl] {
    for (;;) {
      try {
        impl->ioc.run();
        return;
      } catch (const std::exception& e) {
        // Last resort: handlers report errors as values; nothing should throw here. Keep serving.
        std::fprintf(stderr, "keyward: provider I/O thread: unexpected exception: %s\n", e.what());
      } catch (...) {
        std::fprintf(stderr, "keyward: provider I/O thread: unexpected exception\n");
      }
    }
  });
  impl->thread_id = impl->thread.get_id();
  return std::shared_ptr<IoRuntime>(new IoRuntime(std::move(impl)));
}

IoRuntime::IoRuntime(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

IoRuntime::~IoRuntime() {
  impl_->work.reset();
  if (std::this_thread::get_id() == impl_->thread_id) {
    impl_->thread.detach();
  } else {
    impl_->thread.join();
  }
}

void IoRuntime::Post(std::function<void()> fn) { net::post(impl_->ioc, std::move(fn)); }

bool IoRuntime::RunningInThisThread() const { return std::this_thread::get_id() == impl_->thread_id; }

net::io_context& IoRuntime::context() { return impl_->ioc; }

struct IoTimer::Impl {
  explicit Impl(net::io_context& ioc) : timer(ioc) {}
  net::steady_timer timer;
  std::uint64_t generation = 0;  // which At() the pending wait belongs to; runtime thread only
};

IoTimer::IoTimer(IoRuntime& runtime) : impl_(std::make_shared<Impl>(runtime.context())) {}

IoTimer::~IoTimer() { Cancel(); }

void IoTimer::At(std::chrono::steady_clock::time_point when, std::function<void()> fn) {
  net::post(impl_->timer.get_executor(), [impl = impl_, when, fn = std::move(fn)]() mutable {
    const std::uint64_t generation = ++impl->generation;
    impl->timer.expires_at(when);
    impl->timer.async_wait([impl, generation, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec && generation == impl->generation) fn();
    });
  });
}

void IoTimer::Cancel() {
  net::post(impl_->timer.get_executor(), [impl = impl_] {
    ++impl->generation;
    impl->timer.cancel();
  });
}

}  // namespace keyward::http
