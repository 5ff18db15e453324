// QR codes of paper keys, read back by programs that share no code with
// Coffer's: zbarimg (zbar) decodes the PNG, `qrencode -t UTF8` draws the
// terminal form to compare with, python3 parses the SVG as XML.
#include "store/crypto/qr_code.h"

#include <gtest/gtest.h>
#include <png.h>

#include <cstdio>

#include "store/crypto/paper_key.h"
#include "tests/store/crypto/test_data.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::crypto {
namespace {

using coffer::testing::ReadFile;
using coffer::testing::RunCommand;
using coffer::testing::TempDir;
using coffer::testing::WriteFile;

bool Installed(const std::string& program) {
  std::string out;
  return RunCommand({"sh", "-c", "command -v " + program}, &out) == 0;
}

QrCode EncodeOrDie(std::string_view data) {
  Result<QrCode> code = EncodeQr(data);
  EXPECT_TRUE(code.ok()) << code.status().ToString();
  return code.ok() ? *code : QrCode();
}

// The modules a drawing shows, quiet zone included, for comparing.
using Grid = std::vector<std::vector<bool>>;
Grid WithQuietZone(const QrCode& code) {
  const int side = code.width + 2 * kQrQuietZone;
  Grid grid(side, std::vector<bool>(side, false));
  for (int y = 0; y < code.width; ++y) {
    for (int x = 0; x < code.width; ++x) grid[y + kQrQuietZone][x + kQrQuietZone] = code.dark(x, y);
  }
  return grid;
}

// The key lines of a typical key (121 bytes, a wrapped master key) and of the largest.
const std::vector<size_t> kRecordSizes = {121, kMaxPaperKeyBytes};

TEST(QrCodeTest, EncodesAPaperKeyInTheSmallestVersionAtLevelM) {
  for (size_t size : kRecordSizes) {
    const std::string lines = RenderPaperKeyLines(testing::RandomBytes(size, 1));
    const QrCode code = EncodeOrDie(lines);
    EXPECT_EQ(code.width, 17 + 4 * code.version);
    EXPECT_EQ(code.modules.size(), static_cast<size_t>(code.width * code.width));
    // Byte mode at level M: 121 bytes make 14 lines of 30 characters at most.
    EXPECT_LE(code.version, size == 121 ? 16 : 24) << lines.size() << " bytes of text";
  }
}

TEST(QrCodeTest, RefusesNothingAndTooMuch) {
  EXPECT_EQ(EncodeQr("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(EncodeOrDie(std::string(2331, 'x')).version, 40);
  Result<QrCode> too_long = EncodeQr(std::string(2332, 'x'));
  EXPECT_EQ(too_long.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(too_long.status().message(),
            "2332 bytes are too many for a QR code (at most 2331 at error correction level M)");
}

TEST(QrCodeTest, ThePngScansBackToTheKey) {
  if (!Installed("zbarimg")) GTEST_SKIP() << "zbarimg is not installed (Debian package zbar-tools)";
  TempDir tmp;
  for (size_t size : kRecordSizes) {
    const Bytes record = testing::RandomBytes(size, 2);
    const std::string lines = RenderPaperKeyLines(record);
    for (int module_pixels : {3, 8}) {
      const Bytes png = QrToPng(EncodeOrDie(lines), module_pixels);
      WriteFile(tmp / "key.png", AsChars(png));
      std::string said;
      // As the recovery instructions have it, with stderr (dbus chatter) apart.
      ASSERT_EQ(
          RunCommand({"sh", "-c",
                      "cd " + tmp.path() + " && zbarimg --raw -q key.png > typed.txt 2> err.txt"},
                     &said),
          0)
          << ReadFile(tmp / "err.txt");
      const std::string typed = ReadFile(tmp / "typed.txt");
      EXPECT_EQ(typed, lines + "\n");  // zbarimg ends each symbol with a newline
      Result<Bytes> parsed = ParsePaperKey(typed);
      ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
      EXPECT_EQ(*parsed, record);
    }
  }
}

TEST(QrCodeTest, ThePngIsTheModulesBlackOnWhite) {
  const QrCode code = EncodeOrDie(RenderPaperKeyLines(testing::RandomBytes(121, 3)));
  const Grid expected = WithQuietZone(code);
  for (int module_pixels : {1, 5, 8}) {
    const Bytes png = QrToPng(code, module_pixels);
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    ASSERT_TRUE(png_image_begin_read_from_memory(&image, png.data(), png.size())) << image.message;
    EXPECT_EQ(image.format, static_cast<png_uint_32>(PNG_FORMAT_GRAY));
    const int side = static_cast<int>(expected.size()) * module_pixels;
    ASSERT_EQ(image.width, static_cast<png_uint_32>(side));
    ASSERT_EQ(image.height, static_cast<png_uint_32>(side));
    std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
    ASSERT_TRUE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) << image.message;
    for (int y = 0; y < side; ++y) {
      for (int x = 0; x < side; ++x) {
        const uint8_t want = expected[y / module_pixels][x / module_pixels] ? 0 : 255;
        ASSERT_EQ(pixels[static_cast<size_t>(y) * side + x], want) << x << "," << y;
      }
    }
  }
  // Sizes out of range are clamped.
  EXPECT_EQ(QrToPng(code, 0), QrToPng(code, 1));
  EXPECT_EQ(QrToPng(code, 1000), QrToPng(code, 32));
}

// Splits UTF-8 text into its characters.
std::vector<std::string> Characters(std::string_view line) {
  std::vector<std::string> out;
  for (size_t i = 0; i < line.size();) {
    size_t n = 1;
    while (i + n < line.size() && (static_cast<uint8_t>(line[i + n]) & 0xC0) == 0x80) ++n;
    out.emplace_back(line.substr(i, n));
    i += n;
  }
  return out;
}

TEST(QrCodeTest, TheTerminalFormIsHalfBlocksOfLightModules) {
  const QrCode code = EncodeOrDie(RenderPaperKeyLines(testing::RandomBytes(121, 4)));
  const Grid grid = WithQuietZone(code);
  const int side = static_cast<int>(grid.size());
  const std::string text = QrToTerminal(code);
  std::vector<std::string> lines;
  for (size_t at = 0; at < text.size();) {
    const size_t end = text.find('\n', at);
    ASSERT_NE(end, std::string::npos) << "the last line has no newline";
    lines.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  ASSERT_EQ(lines.size(), static_cast<size_t>((side + 1) / 2));
  for (size_t row = 0; row < lines.size(); ++row) {
    const std::vector<std::string> cells = Characters(lines[row]);
    ASSERT_EQ(cells.size(), static_cast<size_t>(side)) << "line " << row;
    for (int x = 0; x < side; ++x) {
      const int y = static_cast<int>(row) * 2;
      const bool top_light = !grid[y][x];
      const bool bottom_light = y + 1 >= side || !grid[y + 1][x];
      const char* want =
          top_light ? (bottom_light ? "\u2588" : "\u2580") : (bottom_light ? "\u2584" : " ");
      ASSERT_EQ(cells[x], want) << "line " << row << ", column " << x;
    }
  }
  // The quiet zone: two lines of full blocks above and below, four at each side.
  for (size_t row : {size_t{0}, size_t{1}, lines.size() - 2, lines.size() - 1}) {
    for (const std::string& cell : Characters(lines[row])) {
      ASSERT_EQ(cell, "\u2588") << "line " << row;
    }
  }
}

TEST(QrCodeTest, TheTerminalFormIsWhatQrencodeDraws) {
  if (!Installed("qrencode")) GTEST_SKIP() << "qrencode is not installed (Debian package qrencode)";
  TempDir tmp;
  for (size_t size : kRecordSizes) {
    const std::string lines = RenderPaperKeyLines(testing::RandomBytes(size, 5));
    WriteFile(tmp / "lines.txt", lines);
    std::string drawn;
    ASSERT_EQ(RunCommand({"qrencode", "-8", "-l", "M", "-m", "4", "-t", "UTF8", "-r",
                          tmp / "lines.txt", "-o", "-"},
                         &drawn),
              0)
        << drawn;
    EXPECT_EQ(QrToTerminal(EncodeOrDie(lines)), drawn);
  }
}

TEST(QrCodeTest, TheSvgIsWellFormedAndDrawsTheModules) {
  const QrCode code = EncodeOrDie(RenderPaperKeyLines(testing::RandomBytes(121, 6)));
  const std::string svg = QrToSvg(code);
  const std::string side = std::to_string(code.width + 2 * kQrQuietZone);
  EXPECT_TRUE(svg.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "))
      << svg.substr(0, 200);
  EXPECT_NE(svg.find(" width=\"60mm\" height=\"60mm\" viewBox=\"0 0 " + side + " " + side + "\""),
            std::string::npos);
  EXPECT_NE(svg.find("<rect width=\"" + side + "\" height=\"" + side + "\" fill=\"#fff\"/>"),
            std::string::npos);

  // One path; its subpaths, read back, are the dark modules. (By hand:
  // libstdc++'s std::regex recurses once a character and overflows the stack.)
  const std::string path_start = "<path fill=\"#000\" d=\"";
  const size_t d_at = svg.find(path_start);
  ASSERT_NE(d_at, std::string::npos);
  const size_t d_end = svg.find("\"/>", d_at);
  ASSERT_NE(d_end, std::string::npos);
  const std::string d = svg.substr(d_at + path_start.size(), d_end - d_at - path_start.size());
  const Grid expected = WithQuietZone(code);
  Grid drawn(expected.size(), std::vector<bool>(expected.size(), false));
  // Subpaths "M<x> <y>h<run>v1h-<run>z", one blank between them.
  std::string rebuilt;
  for (const char* at = d.c_str(); *at != '\0';) {
    int x = 0, y = 0, run = 0, back = 0, length = 0;
    ASSERT_EQ(std::sscanf(at, "M%d %dh%dv1h-%dz%n", &x, &y, &run, &back, &length), 4) << at;
    ASSERT_GT(length, 0) << at;
    ASSERT_EQ(run, back);
    if (!rebuilt.empty()) rebuilt += ' ';
    rebuilt += "M" + std::to_string(x) + " " + std::to_string(y) + "h" + std::to_string(run) +
               "v1h-" + std::to_string(run) + "z";
    for (int i = 0; i < run; ++i) {
      ASSERT_FALSE(drawn.at(y).at(x + i)) << "drawn twice: " << x + i << "," << y;
      drawn[y][x + i] = true;
    }
    at += length;
    if (*at == ' ') ++at;
  }
  EXPECT_EQ(rebuilt, d);
  EXPECT_EQ(drawn, expected);

  if (!Installed("python3")) {
    GTEST_SKIP() << "python3 is not installed: the SVG is not parsed as XML";
  }
  TempDir tmp;
  WriteFile(tmp / "key.svg", svg);
  std::string said;
  EXPECT_EQ(RunCommand({"python3", "-c",
                        "import sys, xml.etree.ElementTree as E\n"
                        "root = E.parse(sys.argv[1]).getroot()\n"
                        "assert root.tag == '{http://www.w3.org/2000/svg}svg', root.tag\n"
                        "assert [c.tag.split('}')[1] for c in root] == ['rect', 'path']\n",
                        tmp / "key.svg"},
                       &said),
            0)
      << said;
}

}  // namespace
}  // namespace coffer::crypto
