// Key text: a key kept in a file outside the repository, as text.
//
//   -----BEGIN COFFER KEY-----           (KeyTextKind::kExported: the master
//   Repository: 64 hex digits             secret itself, KeySet::ExportRecord)
//   Date: YYYY-MM-DD
//
//   base64 of the record, lines of 64 characters
//   -----END COFFER KEY-----
//
// `-----BEGIN COFFER WRAPPED KEY-----` holds a wrapped key instead (KeySet::
// Wrap), which needs its passphrase: the file of `coffer init --key-file`.
// The header lines are for people (which repository, which day); what opens
// a repository is checked against its config, never taken from them.
// The exact format is in store/FORMAT.md ("Key files").
#pragma once

#include <string>
#include <string_view>

#include "store/base/bytes.h"
#include "store/base/status.h"

namespace coffer::crypto {

enum class KeyTextKind { kExported, kWrapped };

struct KeyText {
  KeyTextKind kind = KeyTextKind::kExported;
  std::string repository_id;  // hex, as written
  std::string date;           // as written; may be empty
  Bytes record;
};

// The text of a key file.
std::string FormatKeyText(const KeyText& key);
// Reads a key file: surrounding text, CRLF line ends and blank lines are
// accepted; kInvalidArgument, saying what is wrong, for anything that is
// not one whole key text (no BEGIN or END line, bad base64, a record over
// 4 KiB, two keys in one file).
Result<KeyText> ParseKeyText(std::string_view text);

}  // namespace coffer::crypto
