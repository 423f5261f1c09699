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

}  // namespace keyward
