#include "store/export/pax_writer.h"

#include <algorithm>
#include <cstring>

namespace coffer::exporting {
namespace {

constexpr size_t kBlock = 512;
constexpr size_t kRecord = 10240;  // GNU tar's default blocking factor, 20

// ustar header fields: offset, length.
constexpr size_t kNameAt = 0, kNameLen = 100;
constexpr size_t kModeAt = 100, kUidAt = 108, kGidAt = 116, kIdLen = 8;
constexpr size_t kSizeAt = 124, kMtimeAt = 136, kNumLen = 12;
constexpr size_t kChecksumAt = 148;
constexpr size_t kTypeAt = 156;
constexpr size_t kLinkAt = 157, kLinkLen = 100;
constexpr size_t kMagicAt = 257;  // "ustar\0" "00"
constexpr size_t kUnameAt = 265, kGnameAt = 297, kOwnerNameLen = 32;
constexpr size_t kDevMajorAt = 329, kDevMinorAt = 337;
constexpr size_t kPrefixAt = 345, kPrefixLen = 155;

// Whether `value` fits a field of `len` bytes in octal with its NUL.
bool FitsOctal(uint64_t value, size_t len) {
  const size_t digits = len - 1;
  return digits >= 22 || value < (uint64_t{1} << (3 * digits));
}

void PutOctal(uint8_t* header, size_t at, size_t len, uint64_t value) {
  if (!FitsOctal(value, len)) value = 0;  // then a pax record says it
  for (size_t i = len - 1; i-- > 0;) {
    header[at + i] = static_cast<uint8_t>('0' + (value & 7));
    value >>= 3;
  }
  header[at + len - 1] = '\0';
}

void PutString(uint8_t* header, size_t at, size_t len, std::string_view s) {
  std::memcpy(header + at, s.data(), std::min(len, s.size()));
}

// "LENGTH KEY=VALUE\n", LENGTH counting itself.
void AppendRecord(std::string& out, std::string_view key, std::string_view value) {
  const size_t body = 1 + key.size() + 1 + value.size() + 1;  // " KEY=VALUE\n"
  size_t length = body + 1;
  while (std::to_string(length).size() + body != length)
    length = std::to_string(length).size() + body;
  out += std::to_string(length);
  out += ' ';
  out += key;
  out += '=';
  out += value;
  out += '\n';
}

// Seconds with the nanoseconds as a fraction, trailing zeros dropped, as
// GNU tar writes them: "1733443200.5", "-1.25", "7".
std::string PaxTime(int64_t ns) {
  const bool negative = ns < 0;
  const uint64_t magnitude =
      negative ? uint64_t(0) - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  std::string out = (negative ? "-" : "") + std::to_string(magnitude / 1'000'000'000);
  uint64_t fraction = magnitude % 1'000'000'000;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 9 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    out += '.' + digits;
  }
  return out;
}

// The last component of a path, for the names of extended headers.
std::string_view BaseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}
std::string_view DirName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view(".") : path.substr(0, slash);
}

// Puts `path` in the name and prefix fields if it fits them; false if not
// (a pax path record then holds it, and the fields a shortened form).
bool PutName(uint8_t* header, std::string_view path) {
  if (path.size() <= kNameLen) {
    PutString(header, kNameAt, kNameLen, path);
    return true;
  }
  // Split at a '/' so that the prefix fits 155 and the rest 100.
  for (size_t slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    if (slash > kPrefixLen) break;
    const std::string_view rest = path.substr(slash + 1);
    if (!rest.empty() && rest.size() <= kNameLen) {
      PutString(header, kPrefixAt, kPrefixLen, path.substr(0, slash));
      PutString(header, kNameAt, kNameLen, rest);
      return true;
    }
  }
  PutString(header, kNameAt, kNameLen, path.substr(path.size() - kNameLen));
  return false;
}

void Seal(uint8_t* header) {
  std::memset(header + kChecksumAt, ' ', 8);
  uint32_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += header[i];
  // Six octal digits, NUL, space: as GNU tar writes it.
  for (int i = 5; i >= 0; --i) {
    header[kChecksumAt + static_cast<size_t>(i)] = static_cast<uint8_t>('0' + (sum & 7));
    sum >>= 3;
  }
  header[kChecksumAt + 6] = '\0';
  header[kChecksumAt + 7] = ' ';
}

struct Header {
  uint8_t bytes[kBlock] = {};
};

Header UstarHeader(char type, uint32_t mode, int64_t mtime_ns) {
  Header h;
  std::memcpy(h.bytes + kMagicAt,
              "ustar\0"
              "00",
              8);
  h.bytes[kTypeAt] = static_cast<uint8_t>(type);
  PutOctal(h.bytes, kModeAt, kIdLen, mode & 07777);
  const int64_t seconds = mtime_ns >= 0 ? mtime_ns / 1'000'000'000 : 0;
  PutOctal(h.bytes, kMtimeAt, kNumLen, static_cast<uint64_t>(seconds));
  return h;
}

}  // namespace

Status PaxWriter::Emit(ByteView bytes) {
  written_ += bytes.size();
  return out_(bytes);
}

Status PaxWriter::Begin(const TarMember& m) {
  if (data_left_ != 0) return Status::InvalidArgument("tar: the last member's data is short");
  COFFER_RETURN_IF_ERROR(EndMember());
  const bool file = m.type == TarMember::Type::kFile;
  const bool sparse = file && m.sparse_map.has_value();

  // The data as stored: for a sparse file, the map, padded, then the regions.
  std::string sparse_map_text;
  uint64_t stored = file ? m.size : 0;
  if (sparse) {
    // GNU tar reads every region in whole blocks: all but the last with
    // data must fill theirs.
    const auto& map = *m.sparse_map;
    size_t last_with_data = map.size();
    for (size_t i = 0; i < map.size(); ++i) {
      if (map[i].second > 0) last_with_data = i;
    }
    for (size_t i = 0; i < last_with_data; ++i) {
      if (map[i].second % kBlock != 0) {
        return Status::InvalidArgument("tar: " + m.path +
                                       ": a sparse data region that is not whole 512-byte blocks");
      }
    }
    sparse_map_text = std::to_string(m.sparse_map->size()) + "\n";
    stored = 0;
    for (const auto& [offset, length] : *m.sparse_map) {
      sparse_map_text += std::to_string(offset) + "\n" + std::to_string(length) + "\n";
      stored += length;
    }
    sparse_map_text.resize((sparse_map_text.size() + kBlock - 1) / kBlock * kBlock, '\0');
  }
  const uint64_t stored_with_map = stored + sparse_map_text.size();

  Header h = UstarHeader(static_cast<char>(m.type), m.mode, m.mtime_ns);
  std::string records;
  // GNU tar's order: times, then the rest.
  AppendRecord(records, "mtime", PaxTime(m.mtime_ns));
  AppendRecord(records, "ctime", PaxTime(m.ctime_ns));
  if (sparse) {
    // The ustar name is a stand-in; the real one is GNU.sparse.name.
    const std::string stand_in =
        std::string(DirName(m.path)) + "/GNUSparseFile.0/" + std::string(BaseName(m.path));
    if (!PutName(h.bytes, stand_in)) AppendRecord(records, "path", stand_in);
    AppendRecord(records, "GNU.sparse.major", "1");
    AppendRecord(records, "GNU.sparse.minor", "0");
    AppendRecord(records, "GNU.sparse.name", m.path);
    AppendRecord(records, "GNU.sparse.realsize", std::to_string(m.size));
  } else if (!PutName(h.bytes, m.path)) {
    AppendRecord(records, "path", m.path);
  }
  if (!m.linkpath.empty()) {
    PutString(h.bytes, kLinkAt, kLinkLen, m.linkpath);
    if (m.linkpath.size() > kLinkLen) AppendRecord(records, "linkpath", m.linkpath);
  }
  PutOctal(h.bytes, kUidAt, kIdLen, m.uid);
  PutOctal(h.bytes, kGidAt, kIdLen, m.gid);
  if (!FitsOctal(m.uid, kIdLen)) AppendRecord(records, "uid", std::to_string(m.uid));
  if (!FitsOctal(m.gid, kIdLen)) AppendRecord(records, "gid", std::to_string(m.gid));
  PutOctal(h.bytes, kSizeAt, kNumLen, stored_with_map);
  if (!FitsOctal(stored_with_map, kNumLen))
    AppendRecord(records, "size", std::to_string(stored_with_map));
  if (!m.user.empty()) {
    PutString(h.bytes, kUnameAt, kOwnerNameLen - 1, m.user);
    if (m.user.size() >= kOwnerNameLen) AppendRecord(records, "uname", m.user);
  }
  if (!m.group.empty()) {
    PutString(h.bytes, kGnameAt, kOwnerNameLen - 1, m.group);
    if (m.group.size() >= kOwnerNameLen) AppendRecord(records, "gname", m.group);
  }
  if (m.type == TarMember::Type::kCharDevice || m.type == TarMember::Type::kBlockDevice) {
    PutOctal(h.bytes, kDevMajorAt, kIdLen, m.dev_major);
    PutOctal(h.bytes, kDevMinorAt, kIdLen, m.dev_minor);
  }
  for (const auto& [key, value] : m.records) AppendRecord(records, key, value);
  Seal(h.bytes);

  // The extended header: "DIR/PaxHeaders/NAME", as GNU tar names it.
  Header x = UstarHeader('x', 0644, m.mtime_ns);
  const std::string x_name =
      std::string(DirName(m.path)) + "/PaxHeaders/" + std::string(BaseName(m.path));
  PutName(x.bytes, x_name);
  PutOctal(x.bytes, kSizeAt, kNumLen, records.size());
  Seal(x.bytes);
  COFFER_RETURN_IF_ERROR(Emit(ByteView(x.bytes, kBlock)));
  records.resize((records.size() + kBlock - 1) / kBlock * kBlock, '\0');
  COFFER_RETURN_IF_ERROR(Emit(AsBytes(records)));
  COFFER_RETURN_IF_ERROR(Emit(ByteView(h.bytes, kBlock)));
  if (!sparse_map_text.empty()) COFFER_RETURN_IF_ERROR(Emit(AsBytes(sparse_map_text)));
  data_left_ = stored;
  data_size_ = stored;
  return Status::Ok();
}

Status PaxWriter::WriteData(ByteView data) {
  if (data.size() > data_left_)
    return Status::InvalidArgument("tar: a file's data is longer than its header says");
  data_left_ -= data.size();
  return Emit(data);
}

Status PaxWriter::EndMember() {
  static const uint8_t kZeros[kBlock] = {};
  const size_t pad = static_cast<size_t>((kBlock - data_size_ % kBlock) % kBlock);
  data_size_ = 0;
  return pad > 0 ? Emit(ByteView(kZeros, pad)) : Status::Ok();
}

Status PaxWriter::Finish() {
  if (data_left_ != 0) return Status::InvalidArgument("tar: the last member's data is short");
  COFFER_RETURN_IF_ERROR(EndMember());
  // Two zero blocks end the archive; zeros fill its last record.
  uint64_t end = written_ + 2 * kBlock;
  end = (end + kRecord - 1) / kRecord * kRecord;
  const Bytes zeros(static_cast<size_t>(end - written_), 0);
  return Emit(ByteView(zeros));
}

}  // namespace coffer::exporting
