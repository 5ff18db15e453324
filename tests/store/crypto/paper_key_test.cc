#include "store/crypto/paper_key.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <random>
#include <sstream>
#include <vector>

#include "tests/store/crypto/test_data.h"

namespace coffer::crypto {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const PaperKeyHeader kHeader{
    .repository_id = "3f0c9d2e8b7a61554433221100ffeeddccbbaa99887766554433221100aabbcc",
    .date = "2026-11-24"};

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string JoinLines(const std::vector<std::string>& lines, std::string_view end = "\n") {
  std::string text;
  for (const auto& line : lines) text += line + std::string(end);
  return text;
}

// The index in `lines` of key line `number` as rendered (" 3: ...").
size_t KeyLineAt(const std::vector<std::string>& lines, int number) {
  const std::string prefix = (number < 10 ? " " : "") + std::to_string(number) + ":";
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].starts_with(prefix)) return i;
  }
  ADD_FAILURE() << "no key line " << number;
  return 0;
}

// Where a rendered key line has its key characters.
std::vector<size_t> KeyCharsOf(const std::string& line) {
  std::vector<size_t> at;
  for (size_t i = line.find(':') + 1; i < line.size(); ++i) {
    if (line[i] != ' ') at.push_back(i);
  }
  return at;
}

char Shifted(char c, int by) {
  const size_t symbol = std::string_view(kAlphabet).find(c);
  return kAlphabet[(symbol + by) % 32];
}

std::string ErrorOf(std::string_view text) {
  Result<Bytes> parsed = ParsePaperKey(text);
  EXPECT_FALSE(parsed.ok()) << "parsed:\n" << text;
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument) << parsed.status().ToString();
  return parsed.status().message();
}

void ExpectParsesTo(std::string_view text, const Bytes& record) {
  Result<Bytes> parsed = ParsePaperKey(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << text;
  EXPECT_EQ(*parsed, record);
}

// The format as paper_key.h documents it, written here again with other
// arithmetic (GF(32) products by shifts, the generator from its roots, the
// check by evaluating the code word at them), so that a change to the code
// that changes what is printed fails here.
namespace reference {

uint8_t Mul(uint8_t a, uint8_t b) {
  unsigned product = 0;
  for (int i = 0; i < 5; ++i) {
    if (b >> i & 1) product ^= unsigned{a} << i;
  }
  for (int bit = 8; bit >= 5; --bit) {
    if (product >> bit & 1) product ^= 0x25u << (bit - 5);
  }
  return static_cast<uint8_t>(product);
}

uint8_t Power(uint8_t a, int n) {
  uint8_t r = 1;
  while (n-- > 0) r = Mul(r, a);
  return r;
}

// The polynomial with `coefficients` (highest power first) at `x`.
uint8_t Evaluate(const std::vector<uint8_t>& coefficients, uint8_t x) {
  uint8_t sum = 0;
  for (uint8_t c : coefficients) sum = Mul(sum, x) ^ c;
  return sum;
}

std::vector<uint8_t> Generator() {
  std::vector<uint8_t> g{1};
  for (int i = 1; i <= 4; ++i) {
    std::vector<uint8_t> next(g.size() + 1, 0);
    for (size_t j = 0; j < g.size(); ++j) {
      next[j] ^= g[j];
      next[j + 1] ^= Mul(g[j], Power(2, i));
    }
    g = next;
  }
  return g;
}

// The remainder of data(x) x^4 by the generator, by long division.
std::vector<uint8_t> Parity(const std::vector<uint8_t>& data) {
  std::vector<uint8_t> rest = data;
  rest.resize(data.size() + 4, 0);
  const std::vector<uint8_t> g = Generator();
  for (size_t i = 0; i < data.size(); ++i) {
    const uint8_t factor = rest[i];
    for (size_t j = 0; j < g.size(); ++j) rest[i + j] ^= Mul(g[j], factor);
  }
  return std::vector<uint8_t>(rest.end() - 4, rest.end());
}

std::array<uint8_t, 16> Blake2b128(const Bytes& message) {
  std::array<uint8_t, 16> out;
  crypto_generichash(out.data(), out.size(), message.data(), message.size(),
                     reinterpret_cast<const uint8_t*>("coffer paper key"), 16);
  return out;
}

std::vector<uint8_t> Base32(const Bytes& bytes) {
  std::vector<uint8_t> symbols;
  std::vector<int> bits;
  for (uint8_t b : bytes) {
    for (int i = 7; i >= 0; --i) bits.push_back(b >> i & 1);
  }
  while (bits.size() % 5 != 0) bits.push_back(0);
  for (size_t i = 0; i < bits.size(); i += 5) {
    symbols.push_back(static_cast<uint8_t>(bits[i] << 4 | bits[i + 1] << 3 | bits[i + 2] << 2 |
                                           bits[i + 3] << 1 | bits[i + 4]));
  }
  return symbols;
}

std::string Line(int number, const Bytes& data, const Bytes& sum) {
  const std::vector<uint8_t> symbols = Base32(data);
  Bytes mask_input{static_cast<uint8_t>(number)};
  mask_input.insert(mask_input.end(), sum.begin(), sum.end());
  const auto mask = Blake2b128(mask_input);
  const uint32_t mask_bits = uint32_t{mask[0]} << 12 | uint32_t{mask[1]} << 4 | mask[2] >> 4;
  std::vector<uint8_t> check = Parity(symbols);
  // The code word data || parity has the generator's roots as roots.
  std::vector<uint8_t> word = symbols;
  word.insert(word.end(), check.begin(), check.end());
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(Evaluate(word, Power(2, i)), 0) << "root a^" << i;
  std::string out = (number < 10 ? " " : "") + std::to_string(number) + ":";
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (i % 4 == 0) out += ' ';
    out += kAlphabet[symbols[i]];
  }
  out += "  ";
  for (int i = 0; i < 4; ++i) out += kAlphabet[check[i] ^ (mask_bits >> (15 - 5 * i) & 31)];
  return out + "\n";
}

Bytes Sum(const Bytes& record) {
  const auto hash = Blake2b128(record);
  return Bytes(hash.begin(), hash.begin() + 7);
}

// Line 1 as it would be for any version and length.
std::string FirstLine(uint8_t version, size_t length, const Bytes& sum) {
  Bytes first{version, static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)};
  first.insert(first.end(), sum.begin(), sum.end());
  return Line(1, first, {});
}

std::string KeyLines(const Bytes& record) {
  const Bytes sum = Sum(record);
  std::string out = FirstLine(1, record.size(), sum);
  for (size_t at = 0; at < record.size(); at += 10) {
    const size_t n = std::min<size_t>(10, record.size() - at);
    out += Line(static_cast<int>(at / 10 + 2), Bytes(record.begin() + at, record.begin() + at + n),
                sum);
  }
  return out;
}

}  // namespace reference

Bytes DemoRecord() {
  const std::string_view text = "coffer paper key demo";
  return Bytes(text.begin(), text.end());
}

TEST(PaperKeyTest, TheDocumentedExampleIsWhatIsPrinted) {
  EXPECT_EQ(RenderPaperKey(DemoRecord(), {.repository_id = "3f0c...", .date = "2026-11-24"}),
            "Coffer paper key\n"
            "SECRET: this key opens every backup of the repository named below.\n"
            "Repository: 3f0c...\n"
            "Date: 2026-11-24\n"
            "\n"
            " 1: 0401 B4AZ 30A7 XQPP  CZYK\n"
            " 2: CDQP CSK5 E8G7 0RBG  Z3MS\n"
            " 3: CNS2 0TV5 F4G6 8SBD  CPMC\n"
            " 4: DW  A5S2\n"
            "\n"
            "To recover the key, type the numbered lines into a file (any case and\n"
            "spacing will do) and run: coffer key import --paper FILE\n");
}

TEST(PaperKeyTest, KeyLinesAreTheDocumentedFormat) {
  for (size_t n : {0, 1, 2, 9, 10, 11, 21, 90, 121, 255, 256}) {
    const Bytes record = testing::RandomBytes(n, static_cast<uint32_t>(n) + 7);
    EXPECT_EQ(RenderPaperKeyLines(record), reference::KeyLines(record)) << n << " bytes";
  }
}

TEST(PaperKeyTest, EveryLengthUpTo256RoundTrips) {
  for (size_t n = 0; n <= kMaxPaperKeyBytes; ++n) {
    const Bytes record = testing::RandomBytes(n, static_cast<uint32_t>(n));
    ExpectParsesTo(RenderPaperKey(record, kHeader), record);
    ExpectParsesTo(RenderPaperKeyLines(record), record);
  }
}

TEST(PaperKeyTest, RandomRecordsRoundTrip) {
  std::mt19937 rng(42);
  for (int i = 0; i < 300; ++i) {
    const Bytes record = testing::RandomBytes(rng() % (kMaxPaperKeyBytes + 1), rng());
    ExpectParsesTo(RenderPaperKey(record, kHeader), record);
  }
  // Runs of one byte value, where a wrong bit order would show.
  for (uint8_t value : {0x00, 0xFF, 0x80, 0x01}) {
    const Bytes record(97, value);
    ExpectParsesTo(RenderPaperKey(record, kHeader), record);
  }
}

TEST(PaperKeyTest, ThePageFitsOneA4Sheet) {
  for (size_t n : {0, 1, 90, 121, 256}) {
    for (const PaperKeyHeader& header :
         {kHeader, PaperKeyHeader{},
          PaperKeyHeader{std::string(500, 'a'), std::string(100, '2')}}) {
      const std::string page = RenderPaperKey(testing::RandomBytes(n, 3), header);
      const std::vector<std::string> lines = SplitLines(page);
      EXPECT_LE(lines.size(), 60u) << page;
      for (const std::string& line : lines) {
        EXPECT_LE(line.size(), 72u) << line;
        EXPECT_FALSE(line.ends_with(" ")) << "trailing blank: '" << line << "'";
        for (char c : line) EXPECT_TRUE(c >= ' ' && c < 0x7f) << "not printable ASCII: " << line;
      }
      EXPECT_EQ(lines[0], "Coffer paper key");
      EXPECT_NE(page.find("opens every backup"), std::string::npos);
      EXPECT_NE(page.find("coffer key import --paper FILE"), std::string::npos);
    }
  }
}

TEST(PaperKeyTest, TheHeaderShowsTheRepositoryAndDate) {
  const std::vector<std::string> lines = SplitLines(RenderPaperKey(DemoRecord(), kHeader));
  // 64 hex digits do not fit beside the label: they get their own line.
  EXPECT_EQ(lines[2], "Repository:");
  EXPECT_EQ(lines[3], "  " + kHeader.repository_id);
  EXPECT_EQ(lines[4], "Date: 2026-11-24");
  EXPECT_EQ(lines[5], "");
  EXPECT_TRUE(lines[6].starts_with(" 1: "));
  const std::string short_id =
      RenderPaperKey(DemoRecord(), {.repository_id = "0123abcd", .date = "2026-01-02"});
  EXPECT_NE(short_id.find("\nRepository: 0123abcd\nDate: 2026-01-02\n"), std::string::npos)
      << short_id;
}

TEST(PaperKeyTest, HeaderValuesNeverReadAsKeyLines) {
  // Control characters, and values whose second line would begin "12:".
  const Bytes record = DemoRecord();
  for (const PaperKeyHeader& header :
       {PaperKeyHeader{"\n 2: 0000\r\n", "\t"},
        PaperKeyHeader{std::string(70, 'x') + "12: AB", "5:"},
        PaperKeyHeader{std::string(70, 'x') + " 12:" + std::string(200, 'y'), "1 : 2"}}) {
    const std::string page = RenderPaperKey(record, header);
    ExpectParsesTo(page, record);
    EXPECT_EQ(page.find("12:"), std::string::npos) << page;
  }
}

TEST(PaperKeyTest, TypedBackTextIsReadWhateverItsSpacingAndCase) {
  const Bytes record = testing::RandomBytes(121, 9);
  const std::string page = RenderPaperKey(record, kHeader);
  std::vector<std::string> lines = SplitLines(page);

  std::string lower = page;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  ExpectParsesTo(lower, record);

  std::string spaced;
  for (char c : page) {
    spaced += c;
    if (c == ' ') spaced += "\t  ";
    if (c == '\n') spaced += "\n \t\n";
  }
  ExpectParsesTo(spaced, record);

  std::string squeezed;  // no blanks at all, even after the number
  for (char c : page) {
    if (c != ' ') squeezed += c;
  }
  ExpectParsesTo(squeezed, record);

  ExpectParsesTo(JoinLines(lines, "\r\n"), record);
  ExpectParsesTo(JoinLines(lines, "\r"), record);
  ExpectParsesTo("\xEF\xBB\xBF" + page, record);
  std::string no_last_newline = page;
  no_last_newline.pop_back();
  ExpectParsesTo(no_last_newline, record);

  std::string lookalikes;  // O for 0, I, i, L and l for 1, hyphens between groups
  int one = 0;
  for (const std::string& line : lines) {
    std::string typed = line;
    if (const size_t colon = typed.find(':'); colon != std::string::npos && colon < 3) {
      for (size_t i = colon + 1; i < typed.size(); ++i) {
        if (typed[i] == '0') typed[i] = 'O';
        if (typed[i] == '1') typed[i] = "IiLl"[one++ % 4];
        if (typed[i] == ' ' && i > colon + 1) typed[i] = '-';
      }
    }
    lookalikes += typed + "\n";
  }
  EXPECT_GT(one, 0);
  ExpectParsesTo(lookalikes, record);

  // Only the key lines, with leading zeros, in reverse order, one twice.
  std::vector<std::string> key_lines;
  for (const std::string& line : lines) {
    if (line.size() > 3 && line[2] == ':') {
      key_lines.push_back("0" + line.substr(line[0] == ' ' ? 1 : 0));
    }
  }
  key_lines.push_back(key_lines[3]);
  std::reverse(key_lines.begin(), key_lines.end());
  ExpectParsesTo(JoinLines(key_lines), record);
}

TEST(PaperKeyTest, AnyWrongCharacterIsReportedOnItsLine) {
  const Bytes record = DemoRecord();  // lines 1-3 full, line 4 short
  const std::vector<std::string> lines = SplitLines(RenderPaperKeyLines(record));
  int tried = 0;
  for (int number = 1; number <= 4; ++number) {
    const size_t index = KeyLineAt(lines, number);
    for (size_t at : KeyCharsOf(lines[index])) {
      for (int by = 1; by < 32; ++by) {
        std::vector<std::string> typed = lines;
        typed[index][at] = Shifted(typed[index][at], by);
        EXPECT_EQ(
            ErrorOf(JoinLines(typed)),
            "line " + std::to_string(number) +
                " does not match its checksum: a character in it is wrong, or the line is from "
                "another key");
        ++tried;
      }
    }
  }
  EXPECT_EQ(tried, (3 * 20 + 6) * 31);
}

// Reed-Solomon with 4 check characters: up to 4 wrong characters on a line
// always fail it. Every pair on one line, and many triples and quadruples.
TEST(PaperKeyTest, UpToFourWrongCharactersOnALineAreAlwaysCaught) {
  const Bytes record = testing::RandomBytes(30, 5);
  const std::vector<std::string> lines = SplitLines(RenderPaperKeyLines(record));
  const size_t index = KeyLineAt(lines, 3);
  const std::vector<size_t> at = KeyCharsOf(lines[index]);
  ASSERT_EQ(at.size(), 20u);
  for (size_t i = 0; i < at.size(); ++i) {
    for (size_t j = i + 1; j < at.size(); ++j) {
      for (int by_i = 1; by_i < 32; by_i += 3) {
        for (int by_j = 1; by_j < 32; ++by_j) {
          std::vector<std::string> typed = lines;
          typed[index][at[i]] = Shifted(typed[index][at[i]], by_i);
          typed[index][at[j]] = Shifted(typed[index][at[j]], by_j);
          ASSERT_FALSE(ParsePaperKey(JoinLines(typed)).ok()) << typed[index];
        }
      }
    }
  }
  std::mt19937 rng(7);
  for (int trial = 0; trial < 10000; ++trial) {
    std::vector<std::string> typed = lines;
    std::vector<size_t> positions = at;
    std::shuffle(positions.begin(), positions.end(), rng);
    const int wrong = 3 + trial % 2;
    for (int k = 0; k < wrong; ++k) {
      char& c = typed[index][positions[k]];
      c = Shifted(c, 1 + static_cast<int>(rng() % 31));
    }
    ASSERT_FALSE(ParsePaperKey(JoinLines(typed)).ok()) << typed[index];
  }
}

TEST(PaperKeyTest, SwappedNeighboursAreCaught) {
  const Bytes record = testing::RandomBytes(121, 11);
  const std::vector<std::string> lines = SplitLines(RenderPaperKeyLines(record));
  for (size_t index = 0; index < lines.size(); ++index) {
    const std::vector<size_t> at = KeyCharsOf(lines[index]);
    for (size_t i = 0; i + 1 < at.size(); ++i) {
      std::vector<std::string> typed = lines;
      std::swap(typed[index][at[i]], typed[index][at[i + 1]]);
      if (typed == lines) continue;  // the same character twice
      EXPECT_NE(ErrorOf(JoinLines(typed)).find("line " + std::to_string(index + 1) + " "),
                std::string::npos);
    }
  }
}

TEST(PaperKeyTest, AMissingLineIsNamed) {
  const Bytes record = DemoRecord();
  const std::vector<std::string> page = SplitLines(RenderPaperKey(record, kHeader));
  auto without = [&](std::vector<int> numbers) {
    std::vector<std::string> typed = page;
    std::sort(numbers.rbegin(), numbers.rend());
    for (int number : numbers) {
      typed.erase(typed.begin() + static_cast<long>(KeyLineAt(page, number)));
    }
    return JoinLines(typed);
  };
  EXPECT_EQ(ErrorOf(without({3})), "line 3 is missing");
  EXPECT_EQ(ErrorOf(without({4})), "line 4 is missing");
  EXPECT_EQ(ErrorOf(without({3, 4})), "lines 3 and 4 are missing");
  EXPECT_EQ(ErrorOf(without({2, 3, 4})), "lines 2, 3 and 4 are missing");
  EXPECT_EQ(ErrorOf(without({1})), "line 1 is missing (it holds the key's length and checksum)");
  EXPECT_EQ(
      ErrorOf(without({1, 2, 3, 4})),
      "no key lines found: each line of a paper key starts with its number and a colon, as in "
      "\" 1: 0401 B4AZ ...\"");
  EXPECT_NE(ErrorOf("").find("no key lines found"), std::string::npos);
}

TEST(PaperKeyTest, ALineFromAnotherKeyIsNamed) {
  const Bytes record = testing::RandomBytes(121, 1), other = testing::RandomBytes(121, 2);
  std::vector<std::string> lines = SplitLines(RenderPaperKeyLines(record));
  const std::vector<std::string> other_lines = SplitLines(RenderPaperKeyLines(other));
  std::vector<std::string> typed = lines;
  typed[4] = other_lines[4];
  EXPECT_EQ(ErrorOf(JoinLines(typed)),
            "line 5 does not match its checksum: a character in it is wrong, or the line is from "
            "another key");
  typed = lines;
  typed[0] = other_lines[0];
  EXPECT_EQ(
      ErrorOf(JoinLines(typed)),
      "no line after line 1 matches its checksum, and their checksums depend on line 1: is line 1 "
      "from another key?");
  // A line typed under the number of another.
  typed = lines;
  typed[5] = " 6" + lines[6].substr(2);
  typed[6] = " 7" + lines[5].substr(2);
  EXPECT_EQ(ErrorOf(JoinLines(typed)),
            "line 6 does not match its checksum: a character in it is wrong, or the line is from "
            "another key");
}

TEST(PaperKeyTest, OtherMistakesAreNamedByLine) {
  const std::vector<std::string> lines = SplitLines(RenderPaperKeyLines(DemoRecord()));
  auto with_line = [&](int number, const std::string& text) {
    std::vector<std::string> typed = lines;
    typed[static_cast<size_t>(number) - 1] = text;
    return JoinLines(typed);
  };
  EXPECT_EQ(ErrorOf(with_line(2, " 2: CDQP CSK5 E8G7 0RBG  Z3MU")),
            "line 2 has a character that is not in the key alphabet: 'U'");
  EXPECT_EQ(ErrorOf(with_line(2, " 2: CDQP CSK5 E8G7 0RBG, Z3MS")),
            "line 2 has a character that is not in the key alphabet: ','");
  EXPECT_EQ(ErrorOf(with_line(3, " 3: CNS2 0TV5 F4G6 8SB\xC3\x89  CPMC")),
            "line 3 has a character that is not in the key alphabet: byte 0xC3");
  EXPECT_EQ(ErrorOf(with_line(2, " 2: CDQP CSK5 E8G7 0RB  Z3MS")),
            "line 2 has 19 characters; it should have 20");
  EXPECT_EQ(ErrorOf(with_line(4, " 4: DW  A5S2N")), "line 4 has 7 characters; it should have 6");
  EXPECT_EQ(ErrorOf(with_line(1, " 1: 0401 B4AZ 30A7 XQPP")),
            "line 1 has 16 characters; it should have 20");
  EXPECT_EQ(ErrorOf(with_line(2, " 2:")), "line 2 has 0 characters; it should have 20");

  std::vector<std::string> typed = lines;
  typed.push_back(" 2: CDQP CSK5 E8G7 0RBG  Z3MT");
  EXPECT_EQ(ErrorOf(JoinLines(typed)), "line 2 is there twice, with different characters");
  typed = lines;
  typed.push_back(" 5: DW  A5S2");
  EXPECT_EQ(ErrorOf(JoinLines(typed)),
            "line 5 is not part of this key: line 1 says it has 4 lines");
  typed = lines;
  typed.push_back("0: DW  A5S2");
  EXPECT_EQ(ErrorOf(JoinLines(typed)),
            "line 0 is not part of this key: line 1 says it has 4 lines");
  typed = lines;
  typed.push_back("123456789012345678901234567890: DW  A5S2");
  EXPECT_EQ(ErrorOf(JoinLines(typed)),
            "line 123456789012... is not part of this key: line 1 says it has 4 lines");
}

TEST(PaperKeyTest, LineOneMustSayAKnownVersionAndALengthThatFits) {
  const Bytes record = DemoRecord();
  const Bytes sum = reference::Sum(record);
  std::string lines = RenderPaperKeyLines(record);
  const std::string rest = lines.substr(lines.find('\n') + 1);

  Result<Bytes> later = ParsePaperKey(reference::FirstLine(2, record.size(), sum) + rest);
  EXPECT_EQ(later.status().code(), Code::kUnsupported);
  EXPECT_EQ(later.status().message(),
            "line 1 says this is a paper key of format version 2; this build reads version 1");

  EXPECT_EQ(ErrorOf(reference::FirstLine(1, 257, sum)),
            "line 1 says the key has 257 bytes; a paper key holds at most 256");
  // A length that does not match the lines typed: line 4 is one byte, not two.
  EXPECT_EQ(ErrorOf(reference::FirstLine(1, record.size() + 1, sum) + rest),
            "line 4 has 6 characters; it should have 8");
  // Lines that pass their checks (made with line 1's sum) but hold other bytes.
  Bytes changed = record;
  changed[0] ^= 1;
  std::string forged = reference::FirstLine(1, record.size(), sum);
  for (size_t at = 0; at < changed.size(); at += 10) {
    const size_t n = std::min<size_t>(10, changed.size() - at);
    forged += reference::Line(static_cast<int>(at / 10 + 2),
                              Bytes(changed.begin() + at, changed.begin() + at + n), sum);
  }
  EXPECT_EQ(ErrorOf(forged),
            "the key does not match the checksum in line 1: are its lines from different keys?");
}

}  // namespace
}  // namespace coffer::crypto
