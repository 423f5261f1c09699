// Reading whole files with errors that say what went wrong.
#pragma once

#include <cstddef>
#include <string>

#include "core/result.h"

namespace keyward {

// The contents of `path`, at most `max_bytes` long.
// Errors: NotFound (no such file), PermissionDenied (not readable), InvalidArgument (a directory, or
// larger than max_bytes), Unavailable (any other I/O error). Messages name the path.
Result<std::string> ReadFile(const std::string& path, std::size_t max_bytes);

// OK when the file at `path` (a private key, a credential) is not exposed: neither readable, writable nor
// executable by others, nor writable by its group. Group read is allowed (a key shared with a service
// group, as Debian's ssl-cert, or a Vault Agent sink with mode 0640). `what` names the file in the error.
// Errors: NotFound, PermissionDenied (cannot stat), FailedPrecondition (exposed: the message gives the
// mode and the chmod to run).
Status CheckNotExposed(const std::string& path, const std::string& what);

}  // namespace keyward
