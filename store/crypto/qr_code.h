// QR codes of paper keys (libqrencode), drawn for a terminal, a PNG file or
// an SVG file to print. Separate from coffer_crypto (library coffer_qr) so
// that only what prints keys links libqrencode and libpng.
//
// What a paper key's code carries is the caller's choice; `coffer key export
// --paper --qr` encodes RenderPaperKeyLines (paper_key.h), which
// `zbarimg --raw -q key.png > typed.txt; coffer key import --paper typed.txt`
// reads back.
//
// Every drawing has a quiet zone of kQrQuietZone light modules around the
// code, as the QR standard asks. Pure functions; thread-safe (Debian builds
// libqrencode with pthreads).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/status.h"

namespace coffer::crypto {

struct QrCode {
  int version = 0;            // 1 to 40
  int width = 0;              // modules a side, without the quiet zone
  std::vector<bool> modules;  // width * width, row by row from the top; true is dark

  bool dark(int x, int y) const { return modules[static_cast<size_t>(y) * width + x]; }
};

inline constexpr int kQrQuietZone = 4;
// The side of the SVG drawing: about 0.5 mm a module for the largest paper key.
inline constexpr int kQrSvgMillimetres = 60;

// `data` as one byte-mode segment at error correction level M (15% of the
// code may be lost), in the smallest version that holds it. M rather than Q:
// the printed lines beside the code are the fallback, and a smaller code gets
// larger modules at a fixed printed size, which cameras and printers both
// handle better. kInvalidArgument when `data` is empty or too long (more than
// 2331 bytes).
Result<QrCode> EncodeQr(std::string_view data);

// The code in UTF-8 half blocks, two module rows a text line, each line
// ending in '\n', exactly as `qrencode -t UTF8` draws it: the blocks are the
// LIGHT modules (quiet zone included) and the blanks the dark ones, so on a
// terminal with light text on a dark background (the usual) the code shows
// dark on light, as scanners need. On a dark-on-light terminal it comes out
// inverted; use the PNG or SVG there. The quiet zone is 4 columns at the sides
// and 2 lines (4 rows) above and below.
std::string QrToTerminal(const QrCode& code);

// An 8-bit grayscale PNG, black on white, `module_pixels` pixels a module
// (clamped to 1-32). Throws std::bad_alloc when memory runs out, as any
// allocation does; libpng fails no other way here.
Bytes QrToPng(const QrCode& code, int module_pixels = 8);

// A standalone SVG, kQrSvgMillimetres wide and high: a white square and one
// black path of the dark modules (one subpath per run of a row), in a viewBox
// of one unit a module, quiet zone included.
std::string QrToSvg(const QrCode& code);

}  // namespace coffer::crypto
