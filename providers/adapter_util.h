// Small pieces the adapters share: how messages name an operation, keeping values out of messages,
// turning transport failures into provider statuses.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "core/vocabulary.h"
#include "providers/http/client.h"

namespace keyward::providers {

// "vault provider 'prod': get 'secret/app' key 'password'" (names quoted with Printable).
std::string OpContext(ProviderType type, std::string_view id, std::string_view op, std::string_view scope,
                      std::string_view key);

// `s` with every occurrence of `value` (and of its base64 form) in the message replaced by
// "[redacted]": for statuses built while a value was in flight, in case a server echoed it.
Status Scrub(Status s, std::string_view value);

// Whether a server's own error text may be quoted in a Status built from its answer. Not for the answer
// to a request that carried secret values: a server may echo them, cut short or escaped in ways no
// redaction (Scrub) can be sure to catch, so that text is left out altogether.
enum class ServerText { kQuote, kOmit };

// A server answer that is not what the API documents.
Status Malformed(const std::string& context, std::string_view what);

// A transport-level failure (client error) with the operation in front.
Status TransportError(const std::string& context, const Status& s);

// True for 2xx.
inline bool IsSuccess(unsigned status) { return status >= 200 && status < 300; }

}  // namespace keyward::providers
