// The server configuration (docs/config.md): one JSON file, validated like a policy — every problem at
// once, each with its JSON pointer. Relative paths are relative to the configuration file's directory.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "audit/store.h"
#include "core/http/api.h"
#include "core/http/auth.h"
#include "core/http/server.h"
#include "core/json.h"
#include "core/result.h"

namespace keyward::server {

struct Config {
  std::string path;  // of the configuration file
  http::ServerOptions listen;
  bool tls = false;
  http::ApiOptions api;
  http::Authenticator::Throttle throttle;
  std::chrono::milliseconds shutdown_grace{10000};
  audit::AuditOptions audit;
  std::string policy_path;
  Json providers = Json::array();  // the sections, handed to providers::MakeProvider
  std::vector<http::PrincipalCredentials> principals;
};

// Reads and validates `path`. InvalidArgument (with every problem in *errors) for an invalid file;
// the file's own error (NotFound, PermissionDenied, ...) when it cannot be read.
Result<Config> LoadConfig(const std::string& path, std::vector<Diagnostic>* errors);

}  // namespace keyward::server
