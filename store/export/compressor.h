// The outer compression of an exported archive, as vzdump's `--compress`
// writes it: zstd (with its content checksum, as the zstd program writes
// it), gzip, or none. One forward pass: what goes in comes out compressed
// to the output function, a buffer at a time.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "store/base/bytes.h"
#include "store/base/status.h"

namespace coffer::exporting {

enum class Compression { kNone, kZstd, kGzip };

// Where an exported archive's bytes go, in order.
using OutputFn = std::function<Status(ByteView)>;

// "zstd", "gzip", "none"; kInvalidArgument for anything else.
Result<Compression> ParseCompression(std::string_view name);
// The file name extension vzdump gives it: ".zst", ".gz", "".
std::string_view CompressionExtension(Compression compression);

class Compressor {
 public:
  // `threads` are zstd's workers (0: one per core); gzip uses one.
  static Result<std::unique_ptr<Compressor>> Create(Compression compression, OutputFn out,
                                                    unsigned threads = 0);
  virtual ~Compressor() = default;
  virtual Status Write(ByteView data) = 0;
  // Ends the stream; nothing may be written after.
  virtual Status Finish() = 0;
  // Compressed bytes handed to the output so far.
  virtual uint64_t bytes_out() const = 0;
};

}  // namespace coffer::exporting
