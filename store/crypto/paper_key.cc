#include "store/crypto/paper_key.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "store/crypto/sodium_init.h"

namespace coffer::crypto {
namespace {

// The layout: see paper_key.h.
constexpr uint8_t kFormatVersion = 1;
constexpr size_t kLineBytes = 10;  // on every line but the last
constexpr size_t kSumBytes = 7;
constexpr size_t kCheckChars = 4;
constexpr size_t kGroupChars = 4;
constexpr size_t kHashBytes = 16;  // BLAKE2b-128, truncated where less is needed
constexpr char kHashKey[] = "coffer paper key";
static_assert(sizeof(kHashKey) - 1 == crypto_generichash_KEYBYTES_MIN);
static_assert(1 + 2 + kSumBytes == kLineBytes, "line 1 is as long as a full line");

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
static_assert(sizeof(kAlphabet) - 1 == 32);

constexpr size_t kPageColumns = 72;
constexpr size_t kValueColumns = 70;  // a header value on its own lines, after 2 blanks
constexpr size_t kMaxValueLines = 2;

using Symbols = std::vector<uint8_t>;  // base32 characters as their values 0-31
using Sum = std::array<uint8_t, kSumBytes>;
using Check = std::array<uint8_t, kCheckChars>;

// GF(32) with the field polynomial x^5 + x^2 + 1, as log and antilog tables.
struct Gf32 {
  std::array<uint8_t, 62> exp{};  // twice over, so a sum of two logs needs no mod
  std::array<uint8_t, 32> log{};
};
constexpr Gf32 MakeGf32() {
  Gf32 f;
  unsigned x = 1;
  for (unsigned i = 0; i < 31; ++i) {
    f.exp[i] = f.exp[i + 31] = static_cast<uint8_t>(x);
    f.log[x] = static_cast<uint8_t>(i);
    x <<= 1;
    if (x & 32) x ^= 0x25;
  }
  return f;
}
constexpr Gf32 kGf32 = MakeGf32();

constexpr uint8_t GfMul(uint8_t a, uint8_t b) {
  return a == 0 || b == 0 ? 0 : kGf32.exp[kGf32.log[a] + kGf32.log[b]];
}

// (x - a)(x - a^2)(x - a^3)(x - a^4), highest power first (1, g1, g2, g3, g4).
constexpr std::array<uint8_t, kCheckChars + 1> MakeGenerator() {
  std::array<uint8_t, kCheckChars + 1> g{1};
  for (size_t i = 1; i <= kCheckChars; ++i) {
    const uint8_t root = kGf32.exp[i];
    // g(x) *= (x + root): subtraction is addition in characteristic 2.
    for (size_t j = i; j > 0; --j) g[j] = g[j] ^ GfMul(g[j - 1], root);
  }
  return g;
}
constexpr std::array<uint8_t, kCheckChars + 1> kGenerator = MakeGenerator();

// The remainder of data(x) * x^4 divided by the generator: the parity symbols
// a systematic Reed-Solomon encoder appends.
Check Parity(std::span<const uint8_t> data) {
  Check parity{};
  for (uint8_t symbol : data) {
    const uint8_t feedback = symbol ^ parity[0];
    for (size_t i = 0; i + 1 < kCheckChars; ++i) {
      parity[i] = parity[i + 1] ^ GfMul(feedback, kGenerator[i + 1]);
    }
    parity[kCheckChars - 1] = GfMul(feedback, kGenerator[kCheckChars]);
  }
  return parity;
}

std::array<uint8_t, kHashBytes> Hash(ByteView message) {
  std::array<uint8_t, kHashBytes> out;
  crypto_generichash(out.data(), out.size(), message.data(), message.size(),
                     reinterpret_cast<const uint8_t*>(kHashKey), sizeof(kHashKey) - 1);
  return out;
}

Sum RecordSum(ByteView record) {
  const auto hash = Hash(record);
  Sum sum;
  std::copy_n(hash.begin(), kSumBytes, sum.begin());
  return sum;
}

// The check group of line `number` holding `data`; `sum` is empty for line 1.
Check CheckGroup(size_t number, std::span<const uint8_t> data, ByteView sum) {
  std::array<uint8_t, 1 + kSumBytes> message{static_cast<uint8_t>(number)};
  std::copy(sum.begin(), sum.end(), message.begin() + 1);
  const auto hash = Hash(ByteView(message).first(1 + sum.size()));
  const uint32_t mask = uint32_t{hash[0]} << 12 | uint32_t{hash[1]} << 4 | hash[2] >> 4;
  Check check = Parity(data);
  for (size_t i = 0; i < kCheckChars; ++i) {
    check[i] ^= static_cast<uint8_t>(mask >> (5 * (kCheckChars - 1 - i)) & 31);
  }
  return check;
}

size_t CharsFor(size_t bytes) {
  return (bytes * 8 + 4) / 5;
}

Symbols ToBase32(ByteView bytes) {
  Symbols out;
  out.reserve(CharsFor(bytes.size()));
  uint32_t bits = 0;
  int count = 0;
  for (uint8_t b : bytes) {
    bits = bits << 8 | b;
    count += 8;
    while (count >= 5) {
      count -= 5;
      out.push_back(static_cast<uint8_t>(bits >> count & 31));
    }
  }
  if (count > 0) out.push_back(static_cast<uint8_t>(bits << (5 - count) & 31));
  return out;
}

// The bytes `symbols` spell, or nullopt when the padding bits of the last
// character are not zero (no renderer writes that).
std::optional<Bytes> FromBase32(std::span<const uint8_t> symbols) {
  Bytes out;
  uint32_t bits = 0;
  int count = 0;
  for (uint8_t s : symbols) {
    bits = bits << 5 | s;
    count += 5;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<uint8_t>(bits >> count));
    }
  }
  if ((bits & ((1u << count) - 1)) != 0) return std::nullopt;
  return out;
}

size_t LineCount(size_t record_size) {
  return 1 + (record_size + kLineBytes - 1) / kLineBytes;
}

// The bytes of data line `number` (2 and up) of a record of `record_size`.
size_t LineBytes(size_t number, size_t record_size) {
  return std::min(kLineBytes, record_size - (number - 2) * kLineBytes);
}

void AppendLine(std::string& out, size_t number, ByteView data, ByteView sum) {
  const Symbols symbols = ToBase32(data);
  if (number < 10) out += ' ';
  out += std::to_string(number) + ":";
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (i % kGroupChars == 0) out += ' ';
    out += kAlphabet[symbols[i]];
  }
  out += "  ";
  for (uint8_t c : CheckGroup(number, symbols, sum)) out += kAlphabet[c];
  out += '\n';
}

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// A key line split at its colon: "12" and " ABCD ...". `number` saturates at
// kNoSuchLine, which no key has.
constexpr uint32_t kNoSuchLine = 1'000'000;
struct KeyLine {
  uint32_t number = 0;
  std::string label;  // the number as typed, for messages
  std::string_view content;
};

std::optional<KeyLine> SplitKeyLine(std::string_view line) {
  size_t at = 0;
  while (at < line.size() && IsBlank(line[at])) ++at;
  const size_t digits_at = at;
  while (at < line.size() && IsDigit(line[at])) ++at;
  if (at == digits_at) return std::nullopt;
  std::string_view digits = line.substr(digits_at, at - digits_at);
  while (at < line.size() && IsBlank(line[at])) ++at;
  if (at == line.size() || line[at] != ':') return std::nullopt;
  KeyLine key_line;
  while (digits.size() > 1 && digits[0] == '0') digits.remove_prefix(1);
  for (char d : digits) {
    key_line.number = std::min<uint32_t>(kNoSuchLine, key_line.number * 10 + (d - '0'));
  }
  key_line.label =
      digits.size() <= 12 ? std::string(digits) : std::string(digits.substr(0, 12)) + "...";
  key_line.content = line.substr(at + 1);
  return key_line;
}

// The symbol for a typed character, Crockford's way; -1 for none.
int SymbolOf(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (c == 'O') c = '0';
  if (c == 'I' || c == 'L') c = '1';
  for (int i = 0; i < 32; ++i) {
    if (kAlphabet[i] == c) return i;
  }
  return -1;
}

std::string Quoted(char c) {
  if (c > ' ' && c < 0x7f) return std::string("'") + c + "'";
  static constexpr char kHex[] = "0123456789ABCDEF";
  const auto b = static_cast<uint8_t>(c);
  return std::string("byte 0x") + kHex[b >> 4] + kHex[b & 15];
}

// A key line as typed, its characters read.
struct TypedLine {
  std::string label;
  Symbols symbols;           // data, then the check group
  std::optional<char> bad;   // the first character outside the alphabet
  bool conflicting = false;  // given twice, differently
};

TypedLine ReadLine(const KeyLine& line) {
  TypedLine typed;
  typed.label = line.label;
  typed.symbols.reserve(line.content.size());
  for (char c : line.content) {
    if (IsBlank(c) || c == '-') continue;
    const int symbol = SymbolOf(c);
    if (symbol < 0) {
      if (!typed.bad) typed.bad = c;
      continue;
    }
    typed.symbols.push_back(static_cast<uint8_t>(symbol));
  }
  return typed;
}

bool SameLine(const TypedLine& a, const TypedLine& b) {
  return a.symbols == b.symbols && a.bad == b.bad;
}

// The key lines of `text` by number.
std::map<uint32_t, TypedLine> ReadKeyLines(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::map<uint32_t, TypedLine> lines;
  while (!text.empty()) {
    const size_t end = std::min(text.find_first_of("\r\n"), text.size());
    std::optional<KeyLine> key_line = SplitKeyLine(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
    if (!key_line) continue;
    TypedLine typed = ReadLine(*key_line);
    auto [it, inserted] = lines.try_emplace(key_line->number);
    if (inserted) {
      it->second = std::move(typed);
    } else if (!SameLine(it->second, typed)) {
      it->second.conflicting = true;
    }
  }
  return lines;
}

// What checking one line found.
struct LineVerdict {
  Status status;                 // OK, or why the line is refused
  bool checksum_failed = false;  // read and counted right, but the check group is wrong
  Bytes data;                    // when OK
};

LineVerdict Refused(Status status, bool checksum_failed = false) {
  LineVerdict verdict;
  verdict.status = std::move(status);
  verdict.checksum_failed = checksum_failed;
  return verdict;
}

LineVerdict CheckLine(const TypedLine& line, size_t number, size_t data_bytes, ByteView sum) {
  const std::string name = "line " + line.label;
  if (line.bad) {
    return Refused(Status::InvalidArgument(
        name + " has a character that is not in the key alphabet: " + Quoted(*line.bad)));
  }
  if (line.conflicting) {
    return Refused(Status::InvalidArgument(name + " is there twice, with different characters"));
  }
  const size_t expected = CharsFor(data_bytes) + kCheckChars;
  if (line.symbols.size() != expected) {
    return Refused(Status::InvalidArgument(name + " has " + std::to_string(line.symbols.size()) +
                                           " characters; it should have " +
                                           std::to_string(expected)));
  }
  const auto data = std::span(line.symbols).first(line.symbols.size() - kCheckChars);
  const Check check = CheckGroup(number, data, sum);
  if (!std::equal(check.begin(), check.end(), line.symbols.end() - kCheckChars)) {
    return Refused(Status::InvalidArgument(name + " does not match its checksum: a character in "
                                                  "it is wrong, or the line is from another key"),
                   true);
  }
  std::optional<Bytes> bytes = FromBase32(data);
  if (!bytes) {
    return Refused(
        Status::InvalidArgument(name + " ends in a character that no paper key ends a line with"));
  }
  LineVerdict verdict;
  verdict.data = std::move(*bytes);
  return verdict;
}

// "line 3 is missing", "lines 3 and 5 are missing", "lines 3, 5 and 6 are missing".
Status Missing(const std::vector<size_t>& numbers) {
  if (numbers.size() == 1) {
    return Status::InvalidArgument("line " + std::to_string(numbers[0]) + " is missing");
  }
  std::string list;
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (i > 0) list += i + 1 == numbers.size() ? " and " : ", ";
    list += std::to_string(numbers[i]);
  }
  return Status::InvalidArgument("lines " + list + " are missing");
}

// One header field: "Label: value", or the label alone with the value on the
// lines below it. Values are printable ASCII; no line of them reads as a key line.
void AppendField(std::string& out, std::string_view label, std::string_view value) {
  std::string shown;
  for (char c : value) shown += c >= ' ' && c < 0x7f ? c : '?';
  while (!shown.empty() && shown.back() == ' ') shown.pop_back();
  if (label.size() + 2 + shown.size() <= kPageColumns) {
    out += std::string(label) + ":" + (shown.empty() ? "" : " " + shown) + "\n";
    return;
  }
  if (shown.size() > kValueColumns * kMaxValueLines) {
    shown.resize(kValueColumns * kMaxValueLines - 3);
    shown += "...";
  }
  out += std::string(label) + ":\n";
  for (size_t at = 0; at < shown.size(); at += kValueColumns) {
    std::string line = "  " + shown.substr(at, kValueColumns);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    // A value like "12:..." would read as key line 12.
    if (SplitKeyLine(line)) line[line.find(':')] = '?';
    out += line + "\n";
  }
}

}  // namespace

std::string RenderPaperKeyLines(ByteView record) {
  assert(record.size() <= kMaxPaperKeyBytes);
  EnsureSodium();
  const Sum sum = RecordSum(record);
  Bytes first{kFormatVersion, static_cast<uint8_t>(record.size() >> 8),
              static_cast<uint8_t>(record.size())};
  first.insert(first.end(), sum.begin(), sum.end());
  std::string out;
  AppendLine(out, 1, first, {});
  for (size_t at = 0, number = 2; at < record.size(); at += kLineBytes, ++number) {
    AppendLine(out, number, record.subspan(at, std::min(kLineBytes, record.size() - at)), sum);
  }
  return out;
}

std::string RenderPaperKey(ByteView record, const PaperKeyHeader& header) {
  std::string out = "Coffer paper key\n";
  out += "SECRET: this key opens every backup of the repository named below.\n";
  AppendField(out, "Repository", header.repository_id);
  AppendField(out, "Date", header.date);
  out += "\n";
  out += RenderPaperKeyLines(record);
  out += "\n";
  out += "To recover the key, type the numbered lines into a file (any case and\n";
  out += "spacing will do) and run: coffer key import --paper FILE\n";
  return out;
}

Result<Bytes> ParsePaperKey(std::string_view text) {
  EnsureSodium();
  const std::map<uint32_t, TypedLine> lines = ReadKeyLines(text);
  if (lines.empty()) {
    return Status::InvalidArgument(
        "no key lines found: each line of a paper key starts with its number and a colon, "
        "as in \" 1: 0401 B4AZ ...\"");
  }
  auto first = lines.find(1);
  if (first == lines.end()) {
    return Status::InvalidArgument("line 1 is missing (it holds the key's length and checksum)");
  }
  LineVerdict head = CheckLine(first->second, 1, kLineBytes, {});
  if (!head.status.ok()) return head.status;
  if (head.data[0] != kFormatVersion) {
    return Status::Unsupported("line 1 says this is a paper key of format version " +
                               std::to_string(head.data[0]) + "; this build reads version " +
                               std::to_string(kFormatVersion));
  }
  const size_t record_size = size_t{head.data[1]} << 8 | head.data[2];
  if (record_size > kMaxPaperKeyBytes) {
    return Status::InvalidArgument("line 1 says the key has " + std::to_string(record_size) +
                                   " bytes; a paper key holds at most " +
                                   std::to_string(kMaxPaperKeyBytes));
  }
  const ByteView sum = ByteView(head.data).subspan(3, kSumBytes);
  const size_t line_count = LineCount(record_size);

  // Every line first, so that the message can say the most useful thing: all
  // lines missing at once, or that line 1 is the odd one out.
  Bytes record;
  std::vector<size_t> missing;
  std::optional<Status> first_problem;
  size_t checksum_failures = 0, passed = 0;
  for (size_t number = 2; number <= line_count; ++number) {
    auto it = lines.find(static_cast<uint32_t>(number));
    if (it == lines.end()) {
      missing.push_back(number);
      if (!first_problem) first_problem = Status();  // filled in below
      continue;
    }
    LineVerdict verdict = CheckLine(it->second, number, LineBytes(number, record_size), sum);
    if (verdict.status.ok()) {
      ++passed;
      record.insert(record.end(), verdict.data.begin(), verdict.data.end());
      continue;
    }
    if (verdict.checksum_failed) ++checksum_failures;
    if (!first_problem) first_problem = verdict.status;
  }
  if (checksum_failures >= 2 && passed == 0) {
    return Status::InvalidArgument(
        "no line after line 1 matches its checksum, and their checksums depend on line 1: "
        "is line 1 from another key?");
  }
  if (first_problem) return first_problem->ok() ? Missing(missing) : *first_problem;
  for (const auto& [number, line] : lines) {
    if (number == 0 || number > line_count) {
      return Status::InvalidArgument("line " + line.label +
                                     " is not part of this key: line 1 says it has " +
                                     std::to_string(line_count) + " lines");
    }
  }
  const Sum actual = RecordSum(record);
  if (!std::equal(actual.begin(), actual.end(), sum.begin())) {
    return Status::InvalidArgument(
        "the key does not match the checksum in line 1: are its lines from different keys?");
  }
  return record;
}

}  // namespace coffer::crypto
