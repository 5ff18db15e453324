// What serving other hosts over tcp:// needs besides the address: TLS
// material read from files, and the bearer token every call must carry
// ("authorization: Bearer TOKEN" metadata), compared in constant time.
// Unix sockets need none of it: file permissions guard them.
#pragma once

#include <string>
#include <string_view>

#include "store/base/status.h"

namespace coffer::service {

// The metadata key and the prefix of its value that carry the token.
constexpr std::string_view kAuthorizationKey = "authorization";
constexpr std::string_view kBearerPrefix = "Bearer ";
// What a client sees when the server refuses its token (or its lack of one).
constexpr std::string_view kTokenRefused = "the server refused the token";
// Longest token accepted.
constexpr size_t kMaxTokenBytes = 4096;

// The content of a certificate, key or token file (at most 1 MiB).
// `what` names the file in errors ("certificate", "key", ...).
Result<std::string> ReadCredentialFile(const std::string& path, std::string_view what);

// A token as found in a file or a variable: trailing whitespace (the final
// newline) is dropped; what remains must be 1 to kMaxTokenBytes printable
// ASCII characters without spaces, or kInvalidArgument.
Result<std::string> ParseToken(std::string_view text, std::string_view where);

// True when `value` is "Bearer " + `expected`. The time it takes depends on
// the length of `expected` only, never on where the two differ.
bool BearerMatches(std::string_view value, std::string_view expected);

}  // namespace coffer::service
