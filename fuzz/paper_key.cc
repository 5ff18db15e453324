// Paper keys (store/crypto/paper_key.h): the text a person types back from
// paper, or zbarimg prints from the page's QR code.
//
// Input: text for ParsePaperKey; then the same bytes as a record (the first
// 256), the rest split into the header's repository id and date.
// Properties: a refusal is kInvalidArgument or kUnsupported and speaks of a
// line; what parses renders again (page and key lines alone) to text that
// parses to the same bytes. Every record renders to a page of printable
// ASCII, at most 60 lines of 72 columns, that parses back to it, also typed
// back in lower case, with O for 0 and l for 1, CRLF or CR, tabs and
// hyphens, without the header, in reverse order (ways chosen by a hash of
// the input); and one to four wrong characters on one key line are refused
// as that line not matching its checksum.
#include "store/crypto/paper_key.h"

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"

using namespace coffer;

namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void ExpectParsesTo(std::string_view text, const Bytes& record, std::string_view what) {
  Result<Bytes> parsed = crypto::ParsePaperKey(text);
  if (!parsed.ok()) {
    fuzz::Fail(std::string(what) + " does not parse: " + parsed.status().ToString());
  }
  if (*parsed != record) fuzz::Fail(std::string(what) + " parses to other bytes");
}

std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines;
  for (size_t at = 0; at < text.size();) {
    const size_t end = text.find('\n', at);
    lines.emplace_back(text.substr(at, end - at));
    at = end + 1;
  }
  return lines;
}

// A key line as rendered, " 7: ..." or "12: ..."; a header value's own lines
// start with two blanks.
bool IsKeyLine(const std::string& line) {
  return line.size() > 3 && (line[0] == ' ' || std::isdigit(static_cast<unsigned char>(line[0]))) &&
         std::isdigit(static_cast<unsigned char>(line[1])) && line[2] == ':';
}

// The page as a person might type it back; `ways` picks how.
std::string TypedBack(const std::string& page, uint32_t ways) {
  std::vector<std::string> lines = SplitLines(page);
  if (ways & 1) std::erase_if(lines, [](const std::string& line) { return !IsKeyLine(line); });
  if (ways & 2) std::reverse(lines.begin(), lines.end());
  std::string out;
  for (std::string line : lines) {
    if (IsKeyLine(line)) {
      for (size_t i = 3; i < line.size(); ++i) {
        char& c = line[i];
        if ((ways & 4) && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if ((ways & 8) && c == '0') c = 'O';
        if ((ways & 16) && c == '1') c = 'l';
        if ((ways & 32) && c == ' ') c = '\t';
        if ((ways & 64) && c == ' ' && i > 3) c = '-';
      }
    }
    out += line + ((ways & 128) ? "\r\n" : (ways & 256) ? "\r" : "\n");
  }
  return out;
}

void CheckRecord(const Bytes& record, const crypto::PaperKeyHeader& header, uint32_t seed) {
  const std::string page = crypto::RenderPaperKey(record, header);
  const std::vector<std::string> lines = SplitLines(page);
  if (lines.size() > 60) fuzz::Fail("the page has more than 60 lines");
  for (const std::string& line : lines) {
    if (line.size() > 72) fuzz::Fail("a line of the page is wider than 72 columns: " + line);
    for (char c : line) {
      if (c < ' ' || c >= 0x7f) fuzz::Fail("the page has a character that is not printable ASCII");
    }
  }
  ExpectParsesTo(page, record, "a rendered page");
  ExpectParsesTo(crypto::RenderPaperKeyLines(record), record, "rendered key lines");

  std::mt19937 rng(seed);
  ExpectParsesTo(TypedBack(page, static_cast<uint32_t>(rng())), record, "a page typed back");

  // One to four characters of one key line changed to others.
  std::vector<size_t> key_lines;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (IsKeyLine(lines[i])) key_lines.push_back(i);
  }
  const size_t index = key_lines[rng() % key_lines.size()];
  std::vector<std::string> typed = lines;
  std::string& line = typed[index];
  std::vector<size_t> chars;
  for (size_t i = 3; i < line.size(); ++i) {
    if (line[i] != ' ') chars.push_back(i);
  }
  std::shuffle(chars.begin(), chars.end(), rng);
  const size_t wrong = std::min<size_t>(chars.size(), 1 + rng() % 4);
  for (size_t k = 0; k < wrong; ++k) {
    char& c = line[chars[k]];
    const size_t symbol = std::string_view(kAlphabet).find(c);
    c = kAlphabet[(symbol + 1 + rng() % 31) % 32];
  }
  std::string text;
  for (const std::string& l : typed) text += l + "\n";
  Result<Bytes> parsed = crypto::ParsePaperKey(text);
  const std::string number = std::to_string(std::stoi(lines[index].substr(0, 2)));
  if (parsed.ok()) {
    fuzz::Fail("line " + number + " with " + std::to_string(wrong) + " wrong characters parsed");
  }
  if (!parsed.status().message().starts_with("line " + number + " does not match its checksum")) {
    fuzz::Fail("wrong characters on line " + number +
               " were reported as: " + parsed.status().message());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  Result<Bytes> parsed = crypto::ParsePaperKey(input);
  if (!parsed.ok()) {
    const Status& s = parsed.status();
    if (s.code() != Code::kInvalidArgument && s.code() != Code::kUnsupported) {
      fuzz::Fail("a refusal that is neither kInvalidArgument nor kUnsupported: " + s.ToString());
    }
    if (s.message().find("line") == std::string::npos) {
      fuzz::Fail("a refusal that names no line: " + s.message());
    }
  } else {
    if (parsed->size() > crypto::kMaxPaperKeyBytes) {
      fuzz::Fail("parsed a key longer than 256 bytes");
    }
    ExpectParsesTo(crypto::RenderPaperKey(*parsed, {"0123abcd", "2026-11-24"}), *parsed,
                   "the page of a parsed key");
    ExpectParsesTo(crypto::RenderPaperKeyLines(*parsed), *parsed, "the key lines of a parsed key");
  }

  const size_t record_size = std::min(size, crypto::kMaxPaperKeyBytes);
  const Bytes record(data, data + record_size);
  const std::string_view rest = input.substr(record_size);
  const crypto::PaperKeyHeader header{std::string(rest.substr(0, rest.size() / 2)),
                                      std::string(rest.substr(rest.size() / 2))};
  uint32_t seed = 2166136261u;  // FNV-1a of the input
  for (uint8_t b : input) seed = (seed ^ b) * 16777619u;
  CheckRecord(record, header, seed);
  return 0;
}
