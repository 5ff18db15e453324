#include "store/crypto/zstd_codec.h"

#include <zstd.h>

#include <memory>
#include <string>

namespace coffer::crypto {
namespace {

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
  return cctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
  return dctx.get();
}

}  // namespace

std::optional<size_t> ZstdCompress(ByteView in, int level, std::span<uint8_t> out) {
  ZSTD_CCtx* cctx = ThreadCCtx();
  if (cctx == nullptr) return std::nullopt;
  // Set every call: Sealers with different levels may share this thread.
  if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level))) {
    return std::nullopt;
  }
  const size_t n = ZSTD_compress2(cctx, out.data(), out.size(), in.data(), in.size());
  // dstSize_tooSmall means "does not shrink"; any other error also falls back to raw.
  if (ZSTD_isError(n)) return std::nullopt;
  return n;
}

Result<size_t> ZstdContentSize(ByteView frame, size_t max_size) {
  const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return Status::Corruption("bad zstd frame header");
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {
    return Status::Corruption("zstd frame does not declare its size");
  }
  if (declared > max_size) {
    return Status::Corruption("zstd frame declares " + std::to_string(declared) +
                              " bytes, above the limit");
  }
  if (ZSTD_findFrameCompressedSize(frame.data(), frame.size()) != frame.size()) {
    return Status::Corruption("zstd payload is not exactly one frame");
  }
  return static_cast<size_t>(declared);
}

Status ZstdDecompressInto(ByteView frame, std::span<uint8_t> out) {
  ZSTD_DCtx* dctx = ThreadDCtx();
  if (dctx == nullptr) return Status::IoError("out of memory for a zstd context");
  const size_t n = ZSTD_decompressDCtx(dctx, out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n)) {
    return Status::Corruption(std::string("bad zstd frame: ") + ZSTD_getErrorName(n));
  }
  if (n != out.size()) return Status::Corruption("zstd frame is shorter than it declares");
  return Status::Ok();
}

}  // namespace coffer::crypto
