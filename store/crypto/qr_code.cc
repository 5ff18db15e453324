#include "store/crypto/qr_code.h"

#include <png.h>
#include <qrencode.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <new>

namespace coffer::crypto {
namespace {

// What byte mode holds at level M in version 40.
constexpr size_t kMaxQrBytes = 2331;

// Half blocks as `qrencode -t UTF8` uses them: the block is light.
constexpr char kBothLight[] = "\u2588";    // █
constexpr char kTopLight[] = "\u2580";     // ▀
constexpr char kBottomLight[] = "\u2584";  // ▄
constexpr char kBothDark[] = " ";

// Whether the module at (x, y) of the code with its quiet zone is dark.
bool DarkWithQuietZone(const QrCode& code, int x, int y) {
  x -= kQrQuietZone;
  y -= kQrQuietZone;
  return x >= 0 && y >= 0 && x < code.width && y < code.width && code.dark(x, y);
}

}  // namespace

Result<QrCode> EncodeQr(std::string_view data) {
  if (data.empty()) return Status::InvalidArgument("a QR code needs something to encode");
  const std::string too_long = std::to_string(data.size()) +
                               " bytes are too many for a QR code (at most " +
                               std::to_string(kMaxQrBytes) + " at error correction level M)";
  if (data.size() > kMaxQrBytes) return Status::InvalidArgument(too_long);
  errno = 0;
  std::unique_ptr<QRcode, decltype(&QRcode_free)> encoded(
      QRcode_encodeData(static_cast<int>(data.size()),
                        reinterpret_cast<const unsigned char*>(data.data()), 0, QR_ECLEVEL_M),
      QRcode_free);
  if (!encoded) {
    if (errno == ERANGE) return Status::InvalidArgument(too_long);
    return Status::FromErrno(errno, "encoding a QR code");
  }
  QrCode code;
  code.version = encoded->version;
  code.width = encoded->width;
  code.modules.resize(static_cast<size_t>(code.width) * code.width);
  for (size_t i = 0; i < code.modules.size(); ++i) code.modules[i] = encoded->data[i] & 1;
  return code;
}

std::string QrToTerminal(const QrCode& code) {
  const int side = code.width + 2 * kQrQuietZone;
  std::string out;
  // The rows with the quiet zone, two a line; the one past the end is light.
  for (int y = 0; y < side; y += 2) {
    for (int x = 0; x < side; ++x) {
      const bool top = DarkWithQuietZone(code, x, y);
      const bool bottom = y + 1 < side && DarkWithQuietZone(code, x, y + 1);
      out += top ? (bottom ? kBothDark : kBottomLight) : (bottom ? kTopLight : kBothLight);
    }
    out += '\n';
  }
  return out;
}

Bytes QrToPng(const QrCode& code, int module_pixels) {
  module_pixels = std::clamp(module_pixels, 1, 32);
  const int side = (code.width + 2 * kQrQuietZone) * module_pixels;
  std::vector<uint8_t> pixels(static_cast<size_t>(side) * side, 0xFF);
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      if (DarkWithQuietZone(code, x / module_pixels, y / module_pixels)) {
        pixels[static_cast<size_t>(y) * side + x] = 0;
      }
    }
  }
  // libpng's simplified API: it reports errors in `image` instead of through
  // longjmp, which would skip C++ destructors.
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(side);
  image.height = static_cast<png_uint_32>(side);
  image.format = PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr)) {
    throw std::bad_alloc();
  }
  Bytes png(size);
  if (!png_image_write_to_memory(&image, png.data(), &size, 0, pixels.data(), 0, nullptr)) {
    throw std::bad_alloc();
  }
  png.resize(size);
  return png;
}

std::string QrToSvg(const QrCode& code) {
  const std::string side = std::to_string(code.width + 2 * kQrQuietZone);
  const std::string size = std::to_string(kQrSvgMillimetres) + "mm";
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + size +
         "\" height=\"" + size + "\" viewBox=\"0 0 " + side + " " + side +
         "\" shape-rendering=\"crispEdges\">\n";
  out += "<rect width=\"" + side + "\" height=\"" + side + "\" fill=\"#fff\"/>\n";
  out += "<path fill=\"#000\" d=\"";
  bool first = true;
  for (int y = 0; y < code.width; ++y) {
    for (int x = 0; x < code.width;) {
      if (!code.dark(x, y)) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < code.width && code.dark(x + run, y)) ++run;
      if (!first) out += ' ';
      first = false;
      out += "M" + std::to_string(x + kQrQuietZone) + " " + std::to_string(y + kQrQuietZone) + "h" +
             std::to_string(run) + "v1h-" + std::to_string(run) + "z";
      x += run;
    }
  }
  out += "\"/>\n</svg>\n";
  return out;
}

}  // namespace coffer::crypto
