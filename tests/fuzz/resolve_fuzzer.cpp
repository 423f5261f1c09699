// Fuzzes the resolve request parser through the in-process HTTP API: the input is the body of
// POST /v1/resolve from an authenticated principal (alice), so every byte goes to the JSON reader, the
// request schema, the policy and the Resolver. Invariants: api_fixture.h, Check().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/api_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  keyward::fuzz::Exchange ex;
  ex.request.method = "POST";
  ex.request.target = "/v1/resolve";
  ex.request.peer = "10.0.0.7:51234";
  ex.request.headers.emplace_back("authorization", "Bearer " + std::string(keyward::fuzz::kAliceToken));
  ex.request.headers.emplace_back("x-request-id", "fuzz-1");
  ex.request.body.assign(reinterpret_cast<const char*>(data), size);
  keyward::fuzz::Check(ex, ex.request.body);
  return 0;
}
