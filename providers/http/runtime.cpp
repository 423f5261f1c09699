#include "providers/http/runtime.h"

#include <cstdio>
#include <exception>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

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

}  // namespace keyward::http
