// The Databricks adapter: Databricks Secrets (REST API 2.0) behind the Provider port.
//
// Scope and key follow Databricks' naming rules and are checked (ValidateSecretRef/ValidateScope)
// before any call. Values are bytes: `get` answers base64, which is decoded.
//
//   Get     GET /api/2.0/secrets/get — the decoded bytes.
//   List    an empty scope lists the scopes (is_scope = true); otherwise the scope's keys. A list
//           answered as {} (the array left out) is empty.
//   Put     POST /api/2.0/secrets/put with string_value, or bytes_value (base64) when the value is
//           not valid UTF-8. When the scope does not exist it is created (scopes/create) and the put
//           is sent again. Values over 128 KiB are kResourceExhausted before any call.
//   Remove  POST /api/2.0/secrets/delete.
//   Health  GET /api/2.0/secrets/scopes/list.
//
// Errors map on error_code: RESOURCE_DOES_NOT_EXIST → kNotFound, PERMISSION_DENIED →
// kPermissionDenied, UNAUTHENTICATED → kUnauthenticated, INVALID_PARAMETER_VALUE / BAD_REQUEST /
// MALFORMED_REQUEST → kInvalidArgument, REQUEST_LIMIT_EXCEEDED / RESOURCE_EXHAUSTED (429) → retried,
// then kUnavailable, TEMPORARILY_UNAVAILABLE → retried, then kUnavailable; an unknown code by its
// HTTP status. Messages name the provider, the operation, scope and key; never a value or the token.
//
// Every operation runs on the IoRuntime's thread and calls `done` there (see RemoteProvider).
#pragma once

#include <memory>
#include <string>

#include "core/provider.h"
#include "providers/http/client.h"
#include "providers/remote_provider.h"

namespace keyward::providers {

inline constexpr std::size_t kMaxDatabricksValueBytes = 128 * 1024;

struct DatabricksOptions {
  std::string id;
  http::Origin origin;  // the workspace URL
  SecretValue token;    // personal access token (or any bearer token the workspace accepts)
  http::ClientOptions http;
};

// Builds the adapter. Errors: kInvalidArgument (HTTP client options). Makes no network call.
Result<std::unique_ptr<RemoteProvider>> MakeDatabricksProvider(std::shared_ptr<http::IoRuntime> runtime,
                                                               DatabricksOptions options);

}  // namespace keyward::providers
