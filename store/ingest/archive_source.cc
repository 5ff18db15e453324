#include "store/ingest/archive_source.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <type_traits>
#include <utility>

#include "store/base/bytes.h"

namespace coffer::ingest {
namespace {

static_assert(std::is_same_v<la_ssize_t, long>, "the read callbacks are declared with long");

// One read() of the archive file; libarchive's filters take what comes.
constexpr size_t kInputBlock = 1 << 20;
// The tar end-of-archive marker is made of 512-byte blocks of zeros.
constexpr uint64_t kTarBlock = 512;

// Runs the libarchive calls of its scope in the "C" locale (see the header).
class CLocaleScope {
 public:
  CLocaleScope() : previous_(uselocale(CLocale())) {}
  ~CLocaleScope() { uselocale(previous_); }
  CLocaleScope(const CLocaleScope&) = delete;
  CLocaleScope& operator=(const CLocaleScope&) = delete;

 private:
  static locale_t CLocale() {
    // (locale_t)0 if it cannot be made: uselocale() then changes nothing.
    static const locale_t c = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(0));
    return c;
  }
  locale_t previous_;
};

std::string ErrorString(struct archive* a) {
  const char* message = archive_error_string(a);
  // libarchive gives no message where a header ends before its own length
  // says (a cut pax header, a cut or garbled GNU sparse map).
  return message != nullptr && *message != '\0'
             ? message
             : "the archive is damaged or cut short there (libarchive gives no reason)";
}

// A warning that a name or owner name is not in the locale's charset: the
// bytes were kept as archived, which is what is wanted.
bool IsCharsetWarning(struct archive* a) {
  const char* message = archive_error_string(a);
  return message != nullptr && std::strstr(message, "can't be converted from") != nullptr;
}

std::string CompressionName(struct archive* outer) {
  // Filter 0 is the last decompression before the format.
  const char* name = archive_filter_name(outer, 0);
  return name != nullptr ? name : "unknown";
}

bool AllZero(const uint8_t* p, size_t n) {
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

}  // namespace

// gzip, inflated in this process by zlib, which checks each member's CRC-32
// and length; libarchive 3.6's gzip reader checks neither (see the header).
// Members follow one another (`cat a.gz b.gz`); zeros after the last one
// (a tape's padding) are ignored, anything else after it is damage.
class ArchiveSource::GzipStream {
 public:
  GzipStream() : out_(std::make_unique_for_overwrite<uint8_t[]>(kOutBlock)) {
    std::memset(&z_, 0, sizeof z_);
    ready_ = inflateInit2(&z_, 15 + 16) == Z_OK;  // a gzip wrapper, nothing else
  }
  ~GzipStream() {
    if (ready_) inflateEnd(&z_);
  }
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  // The next inflated bytes, pulling compressed ones from `source`; empty at
  // the end. Valid until the next call.
  Result<ByteView> Next(ArchiveSource& source) {
    if (!ready_) return Status::IoError("zlib: cannot start inflating");
    for (;;) {
      if (in_.empty() && !in_ended_) {
        COFFER_ASSIGN_OR_RETURN(in_, source.ReadInput());
        in_ended_ = in_.empty();
      }
      if (member_ended_) {
        if (in_.empty()) return ByteView();
        if (padding_ || in_[0] == 0) {
          if (!AllZero(in_.data(), in_.size())) {
            return Status::Corruption("gzip: data after the end of the compressed stream");
          }
          padding_ = true;
          in_ = {};
          continue;
        }
        if (inflateReset(&z_) != Z_OK)
          return Status::IoError("zlib: cannot inflate the next member");
        member_ended_ = false;
      }
      if (in_.empty()) return Status::Corruption("gzip: the compressed stream ends early");
      z_.next_in = const_cast<Bytef*>(in_.data());
      z_.avail_in = static_cast<uInt>(std::min<size_t>(in_.size(), UINT_MAX));
      z_.next_out = out_.get();
      z_.avail_out = kOutBlock;
      const uInt avail_in = z_.avail_in;
      int r = inflate(&z_, Z_NO_FLUSH);
      const size_t used = avail_in - z_.avail_in, made = kOutBlock - z_.avail_out;
      in_ = in_.subspan(used);
      if (r == Z_STREAM_END) {
        member_ended_ = true;
      } else if (r != Z_OK && !(r == Z_BUF_ERROR && in_.empty())) {
        return Status::Corruption(std::string("gzip: ") + (z_.msg ? z_.msg : "cannot inflate"));
      }
      if (made > 0) return ByteView(out_.get(), made);
    }
  }

 private:
  static constexpr uInt kOutBlock = 256 << 10;
  z_stream z_;
  bool ready_ = false;
  std::unique_ptr<uint8_t[]> out_;
  ByteView in_;            // compressed bytes not yet inflated
  bool in_ended_ = false;  // the input has no more
  bool member_ended_ = false;
  bool padding_ = false;  // zeros after the last member
};

Result<std::unique_ptr<ArchiveSource>> ArchiveSource::Open(const std::string& path) {
  std::unique_ptr<ArchiveSource> source(new ArchiveSource);
  if (path == "-") {
    source->display_name_ = "standard input";
    source->fd_ = STDIN_FILENO;
  } else {
    source->display_name_ = path;
    source->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (source->fd_ < 0) return Status::FromErrno(errno, "open " + path);
    source->owns_fd_ = true;
  }
  source->input_buffer_ = std::make_unique_for_overwrite<uint8_t[]>(kInputBlock);
  return Start(std::move(source));
}

Result<std::unique_ptr<ArchiveSource>> ArchiveSource::OpenMemory(std::span<const uint8_t> bytes,
                                                                 std::string display_name) {
  std::unique_ptr<ArchiveSource> source(new ArchiveSource);
  source->display_name_ = std::move(display_name);
  source->memory_ = bytes;
  return Start(std::move(source));
}

ArchiveSource::~ArchiveSource() {
  CLocaleScope locale;
  // The inner handle reads from the outer one: it goes first. Freeing the
  // outer one reaps an external decompressor.
  if (inner_ != nullptr) archive_read_free(inner_);
  if (outer_ != nullptr) archive_read_free(outer_);
  if (owns_fd_) close(fd_);
}

Result<std::unique_ptr<ArchiveSource>> ArchiveSource::Start(std::unique_ptr<ArchiveSource> source) {
  CLocaleScope locale;
  COFFER_RETURN_IF_ERROR(source->PeekInput());
  COFFER_RETURN_IF_ERROR(source->OpenOuter());
  COFFER_RETURN_IF_ERROR(source->OpenInner());
  return source;
}

Status ArchiveSource::PeekInput() {
  ByteView first = memory_;
  if (fd_ >= 0) {
    // Enough of the file to know a gzip stream by its first three bytes.
    size_t have = 0;
    while (have < 3) {
      ssize_t n = read(fd_, input_buffer_.get() + have, kInputBlock - have);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(errno, "read " + display_name_);
      if (n == 0) {
        input_ended_ = true;
        break;
      }
      have += static_cast<size_t>(n);
    }
    peeked_ = ByteView(input_buffer_.get(), have);
    first = peeked_;
  }
  if (first.size() >= 3 && first[0] == 0x1f && first[1] == 0x8b && first[2] == 0x08) {
    gzip_ = std::make_unique<GzipStream>();
  }
  return Status::Ok();
}

Result<ByteView> ArchiveSource::ReadInput() {
  if (!peeked_.empty()) {
    input_bytes_ += peeked_.size();
    return std::exchange(peeked_, ByteView());
  }
  if (fd_ < 0) {  // memory: all of it at once, then the end
    input_bytes_ += memory_.size();
    return std::exchange(memory_, ByteView());
  }
  if (input_ended_) return ByteView();
  for (;;) {
    ssize_t n = read(fd_, input_buffer_.get(), kInputBlock);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      input_errno_ = errno;
      return Status::FromErrno(errno, "read " + display_name_);
    }
    input_ended_ = n == 0;
    input_bytes_ += static_cast<uint64_t>(n);
    return ByteView(input_buffer_.get(), static_cast<size_t>(n));
  }
}

long ArchiveSource::ReadCompressed(struct archive* outer, void* self, const void** block) {
  auto* source = static_cast<ArchiveSource*>(self);
  Result<ByteView> bytes = source->gzip_ ? source->gzip_->Next(*source) : source->ReadInput();
  if (!bytes.ok()) {
    archive_set_error(outer, EIO, "%s", bytes.status().message().c_str());
    return ARCHIVE_FATAL;
  }
  if (source->gzip_) source->gzip_bytes_ += bytes->size();
  *block = bytes->data();
  return static_cast<long>(bytes->size());
}

Status ArchiveSource::OpenOuter() {
  outer_ = archive_read_new();
  if (outer_ == nullptr) return Status::IoError("libarchive: out of memory");
  // Every filter archive_read_support_filter_all() registers but gzip's own
  // reader, which does not check the gzip trailer: GzipStream reads gzip.
  archive_read_support_filter_bzip2(outer_);
  archive_read_support_filter_compress(outer_);
  archive_read_support_filter_lzip(outer_);
  archive_read_support_filter_lzma(outer_);
  archive_read_support_filter_xz(outer_);
  archive_read_support_filter_uu(outer_);
  archive_read_support_filter_rpm(outer_);
  archive_read_support_filter_lrzip(outer_);
  archive_read_support_filter_lzop(outer_);
  archive_read_support_filter_grzip(outer_);
  archive_read_support_filter_lz4(outer_);
  archive_read_support_filter_zstd(outer_);
  archive_read_support_format_raw(outer_);
  // The filters and the format are chosen here: the raw format takes any
  // first byte, so a failure means nothing came out of the input.
  if (archive_read_open(outer_, this, nullptr, ReadCompressed, nullptr) != ARCHIVE_OK) {
    if (input_errno_ != 0) return Status::FromErrno(input_errno_, "read " + display_name_);
    if (input_bytes_ == 0) return Status::InvalidArgument(display_name_ + " is empty");
    if (gzip_ && gzip_bytes_ == 0) {
      return Status::Corruption(
          display_name_ +
          ": nothing could be decompressed from its gzip stream: " + ErrorString(outer_));
    }
    const std::string message = ErrorString(outer_);
    // An external decompressor that cannot be started, or a stream that
    // needs more filters than libarchive stacks.
    if (message.find("unable to run program") != std::string::npos ||
        message.find("too many filters") != std::string::npos) {
      return Status::Unsupported(display_name_ + ": " + message);
    }
    if (message == "Unrecognized archive format") {  // nothing came out of the input
      return Status::Corruption(display_name_ +
                                ": nothing could be decompressed from it: its compressed stream is "
                                "damaged from the start, or empty");
    }
    return Status::Corruption(display_name_ +
                              ": its compressed stream is damaged from the start: " + message);
  }
  compression_ = gzip_ ? "gzip" : CompressionName(outer_);
  struct archive_entry* stream;
  if (archive_read_next_header(outer_, &stream) != ARCHIVE_OK) {
    return Failure(outer_, "cannot read the decompressed stream");
  }
  return Status::Ok();
}

long ArchiveSource::ReadDecompressed(struct archive* inner, void* self, const void** block) {
  auto* source = static_cast<ArchiveSource*>(self);
  if (source->stream_ended_) return 0;
  size_t size = 0;
  la_int64_t offset = 0;
  int r = archive_read_data_block(source->outer_, block, &size, &offset);
  if (r == ARCHIVE_EOF) {
    source->stream_ended_ = true;
    return 0;
  }
  if (r != ARCHIVE_OK) {
    source->stream_error_ = ErrorString(source->outer_);
    archive_set_error(inner, EIO, "%s", source->stream_error_.c_str());
    return ARCHIVE_FATAL;
  }
  if (source->track_zero_blocks_) source->NoteZeroBlocks(static_cast<const uint8_t*>(*block), size);
  source->decompressed_ += size;
  return static_cast<long>(size);
}

void ArchiveSource::NoteZeroBlocks(const uint8_t* data, size_t size) {
  // What the tar reader has consumed it will not look at again, but for
  // the blocks of the header being read.
  const uint64_t done =
      std::min(static_cast<uint64_t>(std::max<la_int64_t>(archive_filter_bytes(inner_, 0), 0)),
               keep_zero_runs_from_);
  while (!zero_runs_.empty() && zero_runs_.front().second <= done) zero_runs_.pop_front();
  uint64_t offset = decompressed_;  // of data[0] in the stream
  for (size_t i = 0; i < size;) {
    const uint64_t in_block = offset % kTarBlock;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kTarBlock - in_block, size - i));
    const bool zero = (in_block == 0 || block_zero_so_far_) && AllZero(data + i, n);
    if (in_block + n < kTarBlock) {
      block_zero_so_far_ = zero;  // the block goes on in the next piece
    } else if (zero) {
      const uint64_t start = offset - in_block;
      if (!zero_runs_.empty() && zero_runs_.back().second == start) {
        zero_runs_.back().second = start + kTarBlock;
      } else {
        zero_runs_.emplace_back(start, start + kTarBlock);
      }
    }
    i += n;
    offset += n;
  }
}

bool ArchiveSource::ZeroBlockBetween(uint64_t from, uint64_t to) const {
  for (const auto& [start, end] : zero_runs_) {
    if (std::max(start, from) + kTarBlock <= std::min(end, to)) return true;
  }
  return false;
}

Status ArchiveSource::OpenInner() {
  inner_ = archive_read_new();
  if (inner_ == nullptr) return Status::IoError("libarchive: out of memory");
  // Decompressed already; tar is recognised by a valid first header, raw
  // takes anything else.
  archive_read_support_format_tar(inner_);
  archive_read_support_format_raw(inner_);
  keep_zero_runs_from_ = 0;  // the first header is read while the format is chosen
  if (archive_read_open(inner_, this, nullptr, ReadDecompressed, nullptr) != ARCHIVE_OK) {
    return Failure(inner_, "cannot read the decompressed stream");
  }
  int r = archive_read_next_header(inner_, &first_entry_);
  keep_zero_runs_from_ = kNoHeader;
  if (r == ARCHIVE_WARN && IsCharsetWarning(inner_)) r = ARCHIVE_OK;
  if (r == ARCHIVE_EOF && archive_format(inner_) != ARCHIVE_FORMAT_RAW) {
    // A tar archive without members: its first block ends it.
    format_ = ArchiveFormat::kTar;
    first_entry_ = nullptr;
    if (!ZeroBlockBetween(0, position())) {
      return Status::Corruption(display_name_ +
                                ": a tar archive without its end-of-archive marker");
    }
    tar_ended_ = true;
    return SkipToEnd().status();
  }
  if (r != ARCHIVE_OK) {
    if (!stream_error_.empty()) return DecompressionFailure();
    if (decompressed_ == 0) {
      return Status::InvalidArgument(display_name_ + ": its " + compression_ +
                                     " stream holds no data");
    }
    return Failure(inner_, "bad first header");
  }
  if (archive_format(inner_) == ARCHIVE_FORMAT_RAW) {
    format_ = ArchiveFormat::kRaw;
    first_entry_ = nullptr;
    track_zero_blocks_ = false;
    zero_runs_.clear();
    return Status::Ok();
  }
  format_ = ArchiveFormat::kTar;
  return Status::Ok();
}

Status ArchiveSource::DecompressionFailure() const {
  // The input could not be read: not damage.
  if (input_errno_ != 0) return Status::FromErrno(input_errno_, "read " + display_name_);
  return Status::Corruption(display_name_ + ": the " + compression_ + " stream is damaged after " +
                            std::to_string(decompressed_) + " decompressed bytes" +
                            (member_.empty() ? "" : ", in member " + member_) + ": " +
                            stream_error_);
}

std::string ArchiveSource::At(uint64_t position) const {
  std::string where = "at byte " + std::to_string(position);
  if (compression_ != "none") where += " of the decompressed stream";
  if (!member_.empty()) where += ", in member " + member_;
  return where;
}

Status ArchiveSource::DamageHere(std::string_view what) const {
  return Status::Corruption(display_name_ + ": " + std::string(what) + " " + At(position()));
}

Status ArchiveSource::Failure(struct archive* a, std::string_view what) const {
  if (!stream_error_.empty() || input_errno_ != 0) return DecompressionFailure();
  return Status::Corruption(display_name_ + ": " + std::string(what) + ": " + ErrorString(a));
}

Result<size_t> ArchiveSource::Read(std::span<uint8_t> out) {
  if (format_ != ArchiveFormat::kRaw) {
    return Status::InvalidArgument(display_name_ + " is a tar archive, not a raw stream");
  }
  CLocaleScope locale;
  size_t done = 0;
  while (done < out.size()) {
    la_ssize_t n = archive_read_data(inner_, out.data() + done, out.size() - done);
    if (n < 0) return Failure(inner_, "cannot read " + At(raw_position_ + done));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  raw_position_ += done;
  return done;
}

uint64_t ArchiveSource::position() const {
  if (format_ == ArchiveFormat::kRaw) return raw_position_;
  return static_cast<uint64_t>(archive_filter_bytes(inner_, 0));
}

Result<uint64_t> ArchiveSource::SkipToEnd() {
  CLocaleScope locale;
  uint64_t skipped = 0;
  if (format_ == ArchiveFormat::kRaw) {
    // Through archive_read_data, as Read(): it holds the rest of the block
    // Read() took its last bytes from.
    auto scratch = std::make_unique_for_overwrite<uint8_t[]>(kInputBlock);
    for (;;) {
      la_ssize_t n = archive_read_data(inner_, scratch.get(), kInputBlock);
      if (n < 0) return Failure(inner_, "cannot read " + At(raw_position_));
      if (n == 0) break;
      raw_position_ += static_cast<uint64_t>(n);
      skipped += static_cast<uint64_t>(n);
    }
    return skipped;
  }
  // Past the tar's end: what the tar reader holds but did not consume is
  // not counted, only what the outer handle still had.
  while (!stream_ended_) {
    const void* block;
    size_t size = 0;
    la_int64_t offset = 0;
    int r = archive_read_data_block(outer_, &block, &size, &offset);
    if (r == ARCHIVE_EOF) {
      stream_ended_ = true;
      break;
    }
    if (r != ARCHIVE_OK) {
      stream_error_ = ErrorString(outer_);
      return DecompressionFailure();
    }
    decompressed_ += size;
    skipped += size;
  }
  return skipped;
}

Result<struct archive_entry*> ArchiveSource::NextHeader() {
  if (format_ != ArchiveFormat::kTar) {
    return Status::InvalidArgument(display_name_ + " is not a tar archive");
  }
  if (tar_ended_) return static_cast<struct archive_entry*>(nullptr);
  CLocaleScope locale;
  if (first_entry_ != nullptr) {
    struct archive_entry* entry = std::exchange(first_entry_, nullptr);
    const char* name = archive_entry_pathname(entry);
    member_ = name != nullptr ? name : "";
    return entry;
  }
  // The rest of the member and its padding, so that the position is where
  // the next header starts.
  if (archive_read_data_skip(inner_) != ARCHIVE_OK) {
    return Failure(inner_, "cannot read the data " + At(position()));
  }
  const uint64_t header_at = position();
  struct archive_entry* entry = nullptr;
  keep_zero_runs_from_ = header_at;
  int r = archive_read_next_header(inner_, &entry);
  keep_zero_runs_from_ = kNoHeader;
  if (r == ARCHIVE_EOF) {
    // libarchive also ends an archive that simply stops between two
    // members, or after an extended header: the marker is a block of zeros.
    if (!ZeroBlockBetween(header_at, position())) {
      return Status::Corruption(
          display_name_ + ": the archive ends at byte " + std::to_string(header_at) +
          " without its end-of-archive marker (truncated after member " + member_ + ")");
    }
    tar_ended_ = true;
    COFFER_RETURN_IF_ERROR(SkipToEnd().status());
    return static_cast<struct archive_entry*>(nullptr);
  }
  if (r == ARCHIVE_WARN && IsCharsetWarning(inner_)) r = ARCHIVE_OK;
  if (r != ARCHIVE_OK) {
    std::string what = "bad header at byte " + std::to_string(header_at);
    if (compression_ != "none") what += " of the decompressed stream";
    return Failure(inner_, what + " (after member " + member_ + ")");
  }
  const char* name = archive_entry_pathname(entry);
  member_ = name != nullptr ? name : "";
  return entry;
}

Result<ArchiveSource::DataBlock> ArchiveSource::ReadDataBlock() {
  if (format_ != ArchiveFormat::kTar) {
    return Status::InvalidArgument(display_name_ + " is not a tar archive");
  }
  CLocaleScope locale;
  const void* bytes = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int r = archive_read_data_block(inner_, &bytes, &size, &offset);
  if (r == ARCHIVE_EOF) return DataBlock{{}, static_cast<uint64_t>(offset), true};
  if (r != ARCHIVE_OK || offset < 0)
    return Failure(inner_, "cannot read the data " + At(position()));
  return DataBlock{
      {static_cast<const uint8_t*>(bytes), size}, static_cast<uint64_t>(offset), false};
}

}  // namespace coffer::ingest
