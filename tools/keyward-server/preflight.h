// Preflight: loads the files a valid configuration names that the server would otherwise load only at
// start, so that `keyward-server --check` finds what would make the start fail (docs/config.md#checking---check).
//
//   /tls/certificate   the certificate chain, leaf first (PEM), loaded as the server's TLS context does
//   /tls/private_key   the private key (PEM, not encrypted: never prompts for a pass phrase), which must
//                      belong to the certificate
//   /tls/client_ca     the CA certificates (PEM) that verify client certificates
//   /audit/signing_key the audit signing key, through audit::SigningKey::Load (which also refuses a file
//                      its group or others may read or write)
//
// Nothing is kept: the server loads each again when it starts. The audit database, the checkpoint export
// file and the port are not touched.
#pragma once

#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "tools/keyward-server/config.h"

namespace keyward::server {

// OK when every file loads. Otherwise InvalidArgument summarising, with each problem appended to
// *errors at the pointer of the field that names the file; the message names the file.
// REQUIRES: `config` came from LoadConfig; errors != nullptr.
Status Preflight(const Config& config, std::vector<Diagnostic>* errors);

}  // namespace keyward::server
