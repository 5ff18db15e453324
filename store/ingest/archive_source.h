// ArchiveSource: one archive file (or standard input, or bytes in memory)
// read through libarchive, decompressed by whatever compression it has and
// recognised by its content: a tar archive (any variant libarchive knows:
// pax, GNU, ustar, v7) or, anything else, a raw decompressed stream (a
// Proxmox VMA image is one) for a reader of its own.
//
// Two libarchive handles are stacked. The outer one only decompresses (every
// filter libarchive has, format "raw"); the inner one reads the decompressed
// stream, zero-copy, from the outer one's blocks and recognises tar or raw.
// Keeping decompression apart is what lets a tar be checked to its very end:
// GNU tar pads its output with zeros past the end-of-archive marker, which
// the tar reader never reads, and the compressor's checksum (the zstd frame
// checksum, the gzip CRC, lzop's checksums) and an external decompressor's
// exit status come only after that padding. So once the tar ends the rest
// of the decompressed stream is read and discarded, and the import fails if
// its compression is damaged anywhere.
//
// gzip is inflated here with zlib before libarchive sees the stream:
// libarchive 3.6's own gzip reader checks neither the CRC-32 nor the length
// in the gzip trailer ("XXX TODO"), so a flipped byte could come through as
// data; zlib checks both, in this process (`gzip -d` as libarchive's external
// program filter would, at under half the speed). lzop goes through the
// external `lzop -d`, as libarchive does itself when built without liblzo2
// (Debian's is); its messages go to standard error, and its failure is an
// error here, named after the file.
//
// Names are bytes: libarchive converts pax header text from UTF-8 to the
// calling thread's locale and keeps the bytes as they are when it cannot.
// Every libarchive call made here runs in the "C" locale, where it cannot
// for any byte above 127, so names reach the snapshot exactly as archived
// whatever locale the process uses.
//
// Errors name the file and the position: the offset in the decompressed
// stream and, for a tar, the member being read (or the one before a bad
// header). Damage (a truncated or corrupt stream, a bad header) is
// kCorruption; an unreadable file is the errno's code.
//
// Not thread-safe: one thread reads a source at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "store/base/status.h"

struct archive;
struct archive_entry;

namespace coffer::ingest {

enum class ArchiveFormat { kTar, kRaw };

class ArchiveSource {
 public:
  // "-" reads standard input. Fails (kInvalidArgument/kCorruption, message
  // naming the file) if libarchive cannot recognise anything: an empty file
  // or stream, or a compressed stream damaged from its first bytes;
  // kUnsupported if the external `lzop -d` it needs cannot be run.
  static Result<std::unique_ptr<ArchiveSource>> Open(const std::string& path);
  // The same over bytes in memory, which must outlive the source; messages
  // call it `display_name`.
  static Result<std::unique_ptr<ArchiveSource>> OpenMemory(std::span<const uint8_t> bytes,
                                                           std::string display_name);
  ~ArchiveSource();
  ArchiveSource(const ArchiveSource&) = delete;
  ArchiveSource& operator=(const ArchiveSource&) = delete;

  ArchiveFormat format() const { return format_; }
  // libarchive's name of the compression: "zstd", "gzip", "lzop", "xz",
  // "bzip2", "none", ...
  std::string_view compression() const { return compression_; }
  // The path as given, or "standard input".
  std::string_view display_name() const { return display_name_; }

  // kRaw only: the next decompressed bytes, as many as fit in `out` unless
  // the stream ends first; 0 at the end. A compressed stream that ends early
  // or fails its checksum is a kCorruption naming the file and the position.
  Result<size_t> Read(std::span<uint8_t> out);
  // Decompressed bytes consumed: by Read() for kRaw, by the tar reader for
  // kTar (a member's header and data, once read or skipped).
  uint64_t position() const;
  // Reads the rest of the decompressed stream and discards it, so that the
  // decompressor checks the stream's end (checksums, an external program's
  // exit status); the bytes discarded. For a reader that stops before EOF.
  Result<uint64_t> SkipToEnd();

  // kTar: the header of the next member, or nullptr once the archive has
  // ended: after its end-of-archive marker (an archive without one is
  // truncated, an error) and after the rest of the stream was read and its
  // compression checked. Whatever the caller did not read of the previous
  // member's data is skipped. Valid until the next call. libarchive's
  // warnings that a name is not in the locale's charset are not errors (the
  // bytes are kept); any other warning is damage.
  Result<struct archive_entry*> NextHeader();

  // kTar: the next piece of the current member's data, at `offset` in the
  // member (a gap since the previous piece is a hole of a sparse file);
  // `end` with no bytes once the data is read (then `offset` is its size).
  // The bytes are valid until the next call.
  struct DataBlock {
    std::span<const uint8_t> bytes;
    uint64_t offset = 0;
    bool end = false;
  };
  Result<DataBlock> ReadDataBlock();

  // The current member's name as archived ("" before the first).
  const std::string& member_name() const { return member_; }

  // kCorruption: "FILE: `what` at byte N of the decompressed stream, in
  // member M", for damage a reader finds in what it was given.
  Status DamageHere(std::string_view what) const;

  // kTar: the inner libarchive handle, for what this class does not wrap.
  struct archive* handle() {
    return inner_;
  }

 private:
  ArchiveSource() = default;
  static Result<std::unique_ptr<ArchiveSource>> Start(std::unique_ptr<ArchiveSource> source);
  class GzipStream;

  // Reads the first bytes of a file or standard input: a gzip stream is
  // known by them.
  Status PeekInput();
  // The next bytes of the input as they are; empty at its end.
  Result<std::span<const uint8_t>> ReadInput();
  Status OpenOuter();
  Status OpenInner();
  // The outer handle's read callback: the input, inflated if it is gzip.
  static long ReadCompressed(struct archive* outer, void* self, const void** block);
  // The inner handle's read callback: the outer handle's next block.
  static long ReadDecompressed(struct archive* inner, void* self, const void** block);
  // A Status for libarchive's error on `a` while doing `what`, or the
  // decompressor's if the stream failed underneath.
  Status Failure(struct archive* a, std::string_view what) const;
  // "at byte N of the decompressed stream, in member M"
  std::string At(uint64_t position) const;
  Status DecompressionFailure() const;
  // Records which 512-byte blocks of the decompressed stream, from offset
  // decompressed_, are all zeros: the tar end-of-archive marker is such a
  // block where the next header would be, and libarchive does not say
  // whether it found one or the stream simply stopped.
  void NoteZeroBlocks(const uint8_t* data, size_t size);
  // Whether a whole zero block lies in [from, to).
  bool ZeroBlockBetween(uint64_t from, uint64_t to) const;

  std::string display_name_;
  std::string compression_ = "none";
  ArchiveFormat format_ = ArchiveFormat::kRaw;
  int fd_ = -1;  // owned unless it is standard input
  bool owns_fd_ = false;
  std::span<const uint8_t> memory_;
  std::unique_ptr<uint8_t[]> input_buffer_;
  std::span<const uint8_t> peeked_;  // read by PeekInput, not yet handed on
  bool input_ended_ = false;
  std::unique_ptr<GzipStream> gzip_;  // a gzip stream, inflated here
  uint64_t gzip_bytes_ = 0;           // inflated so far
  int input_errno_ = 0;               // a read() of the input failed
  uint64_t input_bytes_ = 0;          // read from the input so far
  struct archive* outer_ = nullptr;
  struct archive* inner_ = nullptr;
  uint64_t decompressed_ = 0;       // bytes the outer handle has produced
  std::string stream_error_;        // the outer handle's error, once it failed
  bool stream_ended_ = false;       // the outer handle reached the stream's end
  uint64_t raw_position_ = 0;       // kRaw: bytes Read() returned
  bool track_zero_blocks_ = true;   // until the stream is known to be raw
  bool block_zero_so_far_ = false;  // the block a piece ended in
  std::deque<std::pair<uint64_t, uint64_t>> zero_runs_;  // [start, end), not yet consumed
  static constexpr uint64_t kNoHeader = ~uint64_t{0};
  uint64_t keep_zero_runs_from_ = kNoHeader;     // where the header being read starts
  struct archive_entry* first_entry_ = nullptr;  // kTar: read at Open to recognise it
  bool tar_ended_ = false;
  std::string member_;
};

}  // namespace coffer::ingest
