// What serving other hosts over tcp:// needs besides the address: TLS
// material read from files, and the bearer token every call must carry
// ("authorization: Bearer TOKEN" metadata), compared in constant time.
// Unix sockets need none of it: file permissions guard them.
//
// Each token has a role. A full token may do everything a local client may;
// an append-only token may add snapshots and read, but never remove, protect
// or annotate a snapshot, change the repository's meta records or collect
// garbage: a client host taken over by ransomware cannot destroy its own
// backups. The server binds the role of the first token a connection
// carries to the connection (server.cc).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/status.h"

namespace coffer::service {

// The metadata key and the prefix of its value that carry the token.
constexpr std::string_view kAuthorizationKey = "authorization";
constexpr std::string_view kBearerPrefix = "Bearer ";
// What a client sees when the server refuses its token (or its lack of one).
constexpr std::string_view kTokenRefused = "the server refused the token";
// Longest token accepted.
constexpr size_t kMaxTokenBytes = 4096;

enum class TokenRole {
  kFull,        // everything
  kAppendOnly,  // add and read snapshots only
};
// "full", "append-only".
std::string_view RoleName(TokenRole role);

// What a client sees when its append-only token is refused a call.
constexpr std::string_view kAppendOnlyRefused =
    "the server allows this token to add and read snapshots only (append-only): "
    "forget/prune/gc need a full token";

// The grpc::AuthContext property, and peer identity, that names the role of
// the token a connection carries ("full" or "append-only").
constexpr std::string_view kRoleProperty = "coffer-token-role";

struct ServerToken {
  std::string token;
  TokenRole role = TokenRole::kFull;
};

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

// The role of the token `value` ("Bearer TOKEN") names among `tokens`, or
// none. Compares `value` with every token, so the time it takes depends on
// the tokens' number and lengths only.
std::optional<TokenRole> MatchBearer(std::string_view value,
                                     const std::vector<ServerToken>& tokens);

}  // namespace coffer::service
