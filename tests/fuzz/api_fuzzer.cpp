// Fuzzes keyward's HTTP API in-process: the input is a whole request (method, target, headers, body;
// framing in api_fixture.h, limited to what Beast lets through) handed to keyward::http::Api::Handle with real routing, authentication,
// policy and Resolver, and in-memory providers and audit sink. Invariants: api_fixture.h, Check().
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/api_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  keyward::fuzz::Check(keyward::fuzz::ParseExchange(input), input);
  return 0;
}
