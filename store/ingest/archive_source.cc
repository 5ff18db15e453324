#include "store/ingest/archive_source.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

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
  return message != nullptr && *message != '\0' ? message : "unknown libarchive error";
}

// A warning that a name or owner name is not in the locale's charset: the
// bytes were kept as archived, which is what is wanted.
bool IsCharsetWarning(struct archive* a) {
  const char* message = archive_error_string(a);
  return message != nullptr && std::strstr(message, "can't be converted from") != nullptr;
}

std::string CompressionName(struct archive* outer) {
  // Filter 0 is the last decompression before the format; the only program
  // filter registered here is gzip's (see the header).
  if (archive_filter_code(outer, 0) == ARCHIVE_FILTER_PROGRAM) return "gzip";
  const char* name = archive_filter_name(outer, 0);
  return name != nullptr ? name : "unknown";
}

}  // namespace

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
  COFFER_RETURN_IF_ERROR(source->OpenOuter());
  COFFER_RETURN_IF_ERROR(source->OpenInner());
  return source;
}

long ArchiveSource::ReadInput(struct archive* outer, void* self, const void** block) {
  auto* source = static_cast<ArchiveSource*>(self);
  if (source->fd_ < 0) {  // memory: all of it at once, then the end
    *block = source->memory_.data();
    size_t size = source->memory_.size();
    source->memory_ = source->memory_.subspan(size);
    source->input_bytes_ += size;
    return static_cast<long>(size);
  }
  for (;;) {
    ssize_t n = read(source->fd_, source->input_buffer_.get(), kInputBlock);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      source->input_errno_ = errno;
      archive_set_error(outer, errno, "read failed");
      return ARCHIVE_FATAL;
    }
    *block = source->input_buffer_.get();
    source->input_bytes_ += static_cast<uint64_t>(n);
    return n;
  }
}

Status ArchiveSource::OpenOuter() {
  outer_ = archive_read_new();
  if (outer_ == nullptr) return Status::IoError("libarchive: out of memory");
  // Every filter archive_read_support_filter_all() registers, but gzip's
  // own reader, which does not check the gzip trailer: `gzip -d` instead.
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
  archive_read_support_filter_program_signature(outer_, "gzip -d", "\x1f\x8b\x08", 3);
  archive_read_support_format_raw(outer_);
  // The filters and the format are chosen here: the raw format takes any
  // first byte, so a failure means nothing came out of the input.
  if (archive_read_open(outer_, this, nullptr, ReadInput, nullptr) != ARCHIVE_OK) {
    if (input_errno_ != 0) return Status::FromErrno(input_errno_, "read " + display_name_);
    if (input_bytes_ == 0) return Status::InvalidArgument(display_name_ + " is empty");
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
    return Status::Corruption(display_name_ + ": its compressed stream is damaged from the start: " +
                              message);
  }
  compression_ = CompressionName(outer_);
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

namespace {

bool AllZero(const uint8_t* p, size_t n) {
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

}  // namespace

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
      return Status::Corruption(display_name_ + ": a tar archive without its end-of-archive marker");
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

Status ArchiveSource::Failure(struct archive* a, std::string_view what) const {
  if (!stream_error_.empty()) return DecompressionFailure();
  if (input_errno_ != 0) return Status::FromErrno(input_errno_, "read " + display_name_);
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
      return Status::Corruption(display_name_ + ": the archive ends at byte " +
                                std::to_string(header_at) +
                                " without its end-of-archive marker (truncated after member " +
                                member_ + ")");
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
  if (r != ARCHIVE_OK || offset < 0) return Failure(inner_, "cannot read the data " + At(position()));
  return DataBlock{{static_cast<const uint8_t*>(bytes), size}, static_cast<uint64_t>(offset), false};
}

}  // namespace coffer::ingest
