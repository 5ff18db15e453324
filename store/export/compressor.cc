#include "store/export/compressor.h"

#include <zlib.h>
#include <zstd.h>

#include <thread>

namespace coffer::exporting {
namespace {

constexpr size_t kOutputBuffer = 1 << 20;

class Uncompressed final : public Compressor {
 public:
  explicit Uncompressed(OutputFn out) : out_(std::move(out)) {}
  Status Write(ByteView data) override {
    if (data.empty()) return Status::Ok();
    bytes_ += data.size();
    return out_(data);
  }
  Status Finish() override { return Status::Ok(); }
  uint64_t bytes_out() const override { return bytes_; }

 private:
  OutputFn out_;
  uint64_t bytes_ = 0;
};

class Zstd final : public Compressor {
 public:
  Zstd(OutputFn out, ZSTD_CCtx* ctx) : out_(std::move(out)), ctx_(ctx), buffer_(kOutputBuffer) {}
  ~Zstd() override { ZSTD_freeCCtx(ctx_); }

  Status Write(ByteView data) override { return Compress(data, ZSTD_e_continue); }
  Status Finish() override { return Compress({}, ZSTD_e_end); }
  uint64_t bytes_out() const override { return bytes_; }

 private:
  Status Compress(ByteView data, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    while (true) {
      ZSTD_outBuffer out{buffer_.data(), buffer_.size(), 0};
      const size_t left = ZSTD_compressStream2(ctx_, &out, &in, mode);
      if (ZSTD_isError(left))
        return Status::IoError(std::string("zstd: ") + ZSTD_getErrorName(left));
      if (out.pos > 0) {
        bytes_ += out.pos;
        COFFER_RETURN_IF_ERROR(out_(ByteView(buffer_.data(), out.pos)));
      }
      const bool done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
      if (done) return Status::Ok();
    }
  }

  OutputFn out_;
  ZSTD_CCtx* ctx_;
  Bytes buffer_;
  uint64_t bytes_ = 0;
};

class Gzip final : public Compressor {
 public:
  explicit Gzip(OutputFn out) : out_(std::move(out)), buffer_(kOutputBuffer) {}
  ~Gzip() override {
    if (initialized_) deflateEnd(&stream_);
  }
  Status Init() {
    // windowBits 15 + 16: a gzip header and trailer (CRC-32 and size), level 6 as gzip's default.
    if (deflateInit2(&stream_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      return Status::IoError("zlib: cannot start a gzip stream");
    }
    initialized_ = true;
    return Status::Ok();
  }
  Status Write(ByteView data) override { return Deflate(data, Z_NO_FLUSH); }
  Status Finish() override { return Deflate({}, Z_FINISH); }
  uint64_t bytes_out() const override { return bytes_; }

 private:
  Status Deflate(ByteView data, int flush) {
    // zlib counts in uInt: feed at most 1 GiB a call.
    do {
      const size_t now = std::min<size_t>(data.size(), 1u << 30);
      stream_.next_in = const_cast<Bytef*>(data.data());
      stream_.avail_in = static_cast<uInt>(now);
      const int mode = now == data.size() ? flush : Z_NO_FLUSH;
      int rc;
      do {
        stream_.next_out = buffer_.data();
        stream_.avail_out = static_cast<uInt>(buffer_.size());
        rc = deflate(&stream_, mode);
        if (rc == Z_STREAM_ERROR) return Status::IoError("zlib: the gzip stream failed");
        const size_t produced = buffer_.size() - stream_.avail_out;
        if (produced > 0) {
          bytes_ += produced;
          COFFER_RETURN_IF_ERROR(out_(ByteView(buffer_.data(), produced)));
        }
      } while (stream_.avail_out == 0 || (mode == Z_FINISH && rc != Z_STREAM_END));
      data = data.subspan(now);
    } while (!data.empty());
    return Status::Ok();
  }

  OutputFn out_;
  z_stream stream_{};
  bool initialized_ = false;
  Bytes buffer_;
  uint64_t bytes_ = 0;
};

}  // namespace

Result<Compression> ParseCompression(std::string_view name) {
  if (name == "zstd") return Compression::kZstd;
  if (name == "gzip") return Compression::kGzip;
  if (name == "none") return Compression::kNone;
  return Status::InvalidArgument("unknown compression '" + std::string(name) +
                                 "' (zstd, gzip or none)");
}

std::string_view CompressionExtension(Compression compression) {
  switch (compression) {
    case Compression::kZstd: return ".zst";
    case Compression::kGzip: return ".gz";
    case Compression::kNone: break;
  }
  return "";
}

Result<std::unique_ptr<Compressor>> Compressor::Create(Compression compression, OutputFn out,
                                                       unsigned threads) {
  switch (compression) {
    case Compression::kNone: return std::unique_ptr<Compressor>(new Uncompressed(std::move(out)));
    case Compression::kGzip: {
      auto gzip = std::make_unique<Gzip>(std::move(out));
      COFFER_RETURN_IF_ERROR(gzip->Init());
      return std::unique_ptr<Compressor>(std::move(gzip));
    }
    case Compression::kZstd: {
      ZSTD_CCtx* ctx = ZSTD_createCCtx();
      if (ctx == nullptr) return Status::IoError("zstd: out of memory");
      auto zstd = std::make_unique<Zstd>(std::move(out), ctx);
      if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
      ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, 3);
      ZSTD_CCtx_setParameter(ctx, ZSTD_c_checksumFlag, 1);
      // Workers only if this libzstd has them; without, the same stream in one thread.
      if (threads > 1) ZSTD_CCtx_setParameter(ctx, ZSTD_c_nbWorkers, static_cast<int>(threads));
      return std::unique_ptr<Compressor>(std::move(zstd));
    }
  }
  return Status::InvalidArgument("unknown compression");
}

}  // namespace coffer::exporting
