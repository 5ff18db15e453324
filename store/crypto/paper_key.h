// Paper keys: a short secret record (`coffer key export --paper`) as plain
// text a person can print, keep in a drawer and type back years later, and
// the parser of what they type. Knows nothing of repositories: the record is
// opaque bytes and the header is shown as given.
//
// The text, format version 1 (printed on paper: never change it, add a
// version). Example, the 21-byte record "coffer paper key demo":
//
//   Coffer paper key
//   SECRET: this key opens every backup of the repository named below.
//   Repository: 3f0c...
//   Date: 2026-11-24
//
//    1: 0401 B4AZ 30A7 XQPP  CZYK
//    2: CDQP CSK5 E8G7 0RBG  Z3MS
//    3: CNS2 0TV5 F4G6 8SBD  CPMC
//    4: DW  A5S2
//
//   To recover the key, type the numbered lines into a file (any case and
//   spacing will do) and run: coffer key import --paper FILE
//
// Key lines, each "NN: " (the number right-aligned in two columns), then the
// line's bytes in Crockford base32 (alphabet 0-9 A-Z without I L O U; 5 bits
// a character, most significant first, the last character padded with zero
// bits: 10 bytes make 16 characters) in groups of 4, then two spaces and the
// line's 4-character check group.
//   - Line 1 holds 10 bytes: [0] format version = 1, [1..3) the record's
//     length (big-endian, at most kMaxPaperKeyBytes), [3..10) the record's
//     sum: the first 7 bytes of BLAKE2b-128 of the record keyed with the 16
//     ASCII bytes "coffer paper key" (a public key that only separates this
//     use of BLAKE2b from others).
//   - Lines 2, 3, ... hold the record, 10 bytes each, the last one what is
//     left (1 to 10 bytes). An empty record has line 1 only; 256 bytes make 27
//     lines.
//   - The check group: the 4 parity symbols of a Reed-Solomon code over GF(32)
//     (field polynomial x^5 + x^2 + 1, generator (x - a)(x - a^2)(x - a^3)
//     (x - a^4) with a = x) of the line's data characters, the first one the
//     highest power, each XORed with 5 bits of the line's mask, taken most
//     significant first: the first 20 bits of BLAKE2b-128, keyed as above,
//     of [the line number as one byte] for line 1 and of [the line number,
//     the record's sum] for the others. The code has distance 5, so any one
//     to four wrong characters on a line (a swapped pair is two) always fail
//     its check; the mask ties the line to its number and, through the sum,
//     to its key. A line from another key, or typed under another number,
//     fails its check with probability 1 - 2^-20 (not certainly); the
//     record's sum catches the rest.
// A later version keeps line 1's shape and first byte, so that this parser
// can say which version it is.
//
// Reading (ParsePaperKey): a key line is a line that starts, after blanks,
// with a decimal number, then blanks if any, then ':'. Every other line (the
// header, the instructions, notes) is ignored. Lines may come in any order
// and any line may be given twice if both copies agree. After the colon,
// blanks (space, tab) and '-' are ignored, letters may be in either case, and
// O is read as 0, I and L as 1 (Crockford's rules); the last 4 characters of
// the line are its check group. Lines end in LF, CRLF or CR; a UTF-8 byte
// order mark at the start is skipped.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "store/base/bytes.h"
#include "store/base/status.h"

namespace coffer::crypto {

// The longest record a paper key holds; it then fits on one page.
inline constexpr size_t kMaxPaperKeyBytes = 256;

// What the page says above the key lines.
struct PaperKeyHeader {
  std::string repository_id;  // hex, shown at the top
  std::string date;           // YYYY-MM-DD
};

// The whole page: title, warning, header, key lines, recovery instructions.
// Plain ASCII, at most 72 columns and 60 lines, no trailing blanks. Header
// values are shown as printable ASCII ('?' for any other byte); a value too
// long for its label's line goes on the lines below it, 70 columns each, at
// most two of them (longer ones are cut, ending in "..."), and never reads as
// a key line. Requires record.size() <= kMaxPaperKeyBytes.
std::string RenderPaperKey(ByteView record, const PaperKeyHeader& header);

// The key lines alone, each ending in '\n': what the page's QR code carries,
// so that a scanned code is the same text as the printed lines and
// ParsePaperKey reads either.
std::string RenderPaperKeyLines(ByteView record);

// The record from text typed (or scanned) back. Every refusal names the line
// to look at, e.g. "line 4 does not match its checksum ...", "line 3 is
// missing", "line 2 has a character that is not in the key alphabet: 'U'",
// "line 5 has 19 characters; it should have 20". Codes: kInvalidArgument for
// what was typed; kUnsupported for a key of a later format version.
Result<Bytes> ParsePaperKey(std::string_view text);

}  // namespace coffer::crypto
