#include "fs/fuse_adapter.h"

#include <fcntl.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/file_reader.h"
#include "store/model/posix_acl.h"

namespace coffer::fs {

int ErrnoFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return 0;
    case Code::kNotFound: return ENOENT;
    case Code::kInvalidArgument: return EINVAL;
    case Code::kUnsupported: return EOPNOTSUPP;
    case Code::kBusy: return EBUSY;
    case Code::kNoSpace: return ENOSPC;
    case Code::kAlreadyExists: return EEXIST;
    case Code::kUnauthenticated:
    case Code::kPermissionDenied: return EACCES;
    case Code::kCorruption:  // damaged data is never returned as data
    case Code::kIoError:
    default: return EIO;
  }
}

namespace {

SnapshotFs& Fs(fuse_req_t req) {
  return *static_cast<SnapshotFs*>(fuse_req_userdata(req));
}

void ReplyStatus(fuse_req_t req, const Status& status) {
  fuse_reply_err(req, ErrnoFor(status));
}

// Runs `body`, which replies; an escaping exception replies EIO instead.
template <typename F>
void Guard(fuse_req_t req, const char* op, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    Fs(req).Log(std::string(op) + " failed: " + e.what());
    fuse_reply_err(req, EIO);
  } catch (...) {
    Fs(req).Log(std::string(op) + " failed with an unknown exception");
    fuse_reply_err(req, EIO);
  }
}

fuse_entry_param ToEntry(const Attr& a) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof e);
  e.ino = a.ino;
  e.generation = 0;
  e.attr = a.st;
  e.attr_timeout = a.timeout;
  e.entry_timeout = a.timeout;
  return e;
}

void Init(void* userdata, struct fuse_conn_info* conn) {
  auto& fs = *static_cast<SnapshotFs*>(userdata);
  auto enable = [conn](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  enable(FUSE_CAP_READDIRPLUS);
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;  // always plus: one round trip per entry fewer
  enable(FUSE_CAP_ASYNC_READ);
  enable(FUSE_CAP_PARALLEL_DIROPS);
  // The kernel enforces stored ACLs (with default_permissions) when others
  // may use the mount. Otherwise it does not ask for ACLs on every access.
  if (fs.options().enforce_acls) enable(FUSE_CAP_POSIX_ACL);
  // Symlinks never change (`latest` gets a new inode for a new target), so
  // the kernel may keep their targets: a path through `latest` then costs no
  // readlink request per system call.
  enable(FUSE_CAP_CACHE_SYMLINKS);
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // Up to 1 MiB per request (libfuse derives max_pages from max_write).
  conn->max_write = 1u << 20;
  conn->time_gran = 1;
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guard(req, "lookup", [&] {
    auto a = Fs(req).Lookup(parent, name);
    if (!a.ok()) return ReplyStatus(req, a.status());
    fuse_entry_param e = ToEntry(*a);
    if (fuse_reply_entry(req, &e) != 0) Fs(req).Forget(e.ino, 1);
  });
}

void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Fs(req).Forget(ino, nlookup);
  fuse_reply_none(req);
}

void ForgetMulti(fuse_req_t req, size_t count, struct fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) Fs(req).Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) {
  Guard(req, "getattr", [&] {
    auto a = Fs(req).GetAttr(ino);
    if (!a.ok()) return ReplyStatus(req, a.status());
    fuse_reply_attr(req, &a->st, a->timeout);
  });
}

void ReadLink(fuse_req_t req, fuse_ino_t ino) {
  Guard(req, "readlink", [&] {
    auto target = Fs(req).ReadLink(ino);
    if (!target.ok()) return ReplyStatus(req, target.status());
    fuse_reply_readlink(req, target->c_str());
  });
}

void Open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Guard(req, "open", [&] {
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
      return (void)fuse_reply_err(req, EROFS);
    auto file = Fs(req).Open(ino);
    if (!file.ok()) return ReplyStatus(req, file.status());
    fi->fh = reinterpret_cast<uint64_t>(file->get());
    fi->keep_cache = 1;  // a snapshot's file never changes
    if (fuse_reply_open(req, fi) == 0) file->release();
  });
}

void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, struct fuse_file_info* fi) {
  Guard(req, "read", [&] {
    auto* file = reinterpret_cast<FileHandle*>(fi->fh);
    if (off < 0) return (void)fuse_reply_err(req, EINVAL);
    auto data = Fs(req).Read(*file, static_cast<uint64_t>(off), size);
    if (!data.ok()) return ReplyStatus(req, data.status());
    if (data->iov.empty()) return (void)fuse_reply_buf(req, nullptr, 0);
    fuse_reply_iov(req, data->iov.data(), static_cast<int>(data->iov.size()));
  });
}

void Release(fuse_req_t req, fuse_ino_t, struct fuse_file_info* fi) {
  delete reinterpret_cast<FileHandle*>(fi->fh);
  fuse_reply_err(req, 0);
}

void OpenDir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Guard(req, "opendir", [&] {
    auto dir = Fs(req).OpenDir(ino);
    if (!dir.ok()) return ReplyStatus(req, dir.status());
    fi->fh = reinterpret_cast<uint64_t>(dir->get());
    if ((*dir)->immutable) {
      fi->keep_cache = 1;
      fi->cache_readdir = 1;
    }
    if (fuse_reply_open(req, fi) == 0) dir->release();
  });
}

// Offsets: 2i + 1 follows item i of the directory, 2i + 2 the partitions
// directory that may follow that item (SnapshotFs::PartitionsDirAfter), so
// an offset says exactly where a listing stopped whichever items have one.
void ReadDirCommon(fuse_req_t req, size_t size, off_t off, struct fuse_file_info* fi, bool plus) {
  Guard(req, plus ? "readdirplus" : "readdir", [&] {
    auto* dir = reinterpret_cast<DirHandle*>(fi->fh);
    // Reused and not cleared: the kernel asks for up to max_pages of
    // entries per call (512 KiB on recent kernels), and zeroing a fresh
    // buffer of that size for every directory was an eighth of the
    // daemon's time in `ls -lR`.
    thread_local std::vector<char> reply_buffer;
    if (reply_buffer.size() < size) reply_buffer.resize(size);
    std::span<char> buf(reply_buffer.data(), size);
    size_t used = 0;
    for (size_t pos = off < 0 ? 0 : static_cast<size_t>(off); pos / 2 < dir->count(); ++pos) {
      const size_t i = pos / 2;
      const bool partitions = pos % 2 == 1;
      std::string name;
      mode_t type = S_IFDIR;
      if (!partitions) {
        auto item = Fs(req).ItemAt(*dir, i);
        if (!item.ok()) {
          if (used == 0) return ReplyStatus(req, item.status());
          break;
        }
        name = item->name;
        type = item->type;
      } else {
        auto after = Fs(req).PartitionsDirAfter(*dir, i);
        if (!after.ok()) {
          if (used == 0) return ReplyStatus(req, after.status());
          break;
        }
        if (!*after) continue;
        name = std::move(**after);
      }
      size_t room = size - used;
      size_t n;
      off_t next = static_cast<off_t>(pos + 1);
      if (plus) {
        auto a = partitions ? Fs(req).Lookup(dir->ino, name) : Fs(req).LookupItem(*dir, i);
        if (!a.ok()) {
          if (partitions) continue;  // an extra: the listing goes on without it
          if (used == 0) return ReplyStatus(req, a.status());
          break;
        }
        fuse_entry_param e = ToEntry(*a);
        if (e.ino == 0) e.attr.st_ino = i == 0 ? dir->ino : FUSE_ROOT_ID;
        n = fuse_add_direntry_plus(req, buf.data() + used, room, name.c_str(), &e, next);
        if (n > room) {
          if (e.ino) Fs(req).Forget(e.ino, 1);
          break;
        }
      } else {
        struct stat st;
        std::memset(&st, 0, sizeof st);
        st.st_ino = pos + 2;  // never 0: programs skip entries with inode 0
        st.st_mode = type;
        n = fuse_add_direntry(req, buf.data() + used, room, name.c_str(), &st, next);
        if (n > room) break;
      }
      used += n;
    }
    fuse_reply_buf(req, buf.data(), used);
  });
}

void ReadDir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, struct fuse_file_info* fi) {
  ReadDirCommon(req, size, off, fi, false);
}

void ReadDirPlus(fuse_req_t req, fuse_ino_t, size_t size, off_t off, struct fuse_file_info* fi) {
  ReadDirCommon(req, size, off, fi, true);
}

void ReleaseDir(fuse_req_t req, fuse_ino_t, struct fuse_file_info* fi) {
  delete reinterpret_cast<DirHandle*>(fi->fh);
  fuse_reply_err(req, 0);
}

void StatFs(fuse_req_t req, fuse_ino_t) {
  struct statvfs st;
  std::memset(&st, 0, sizeof st);
  st.f_bsize = 4096;
  st.f_frsize = 4096;
  st.f_namemax = 255;
  st.f_flag = ST_RDONLY;
  fuse_reply_statfs(req, &st);
}

// The size-probe protocol: size 0 asks for the length; too small a buffer is ERANGE.
void ReplyXattrValue(fuse_req_t req, const std::string& value, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, value.size());
  } else if (size < value.size()) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, value.data(), value.size());
  }
}

bool IsAclName(std::string_view name) {
  return name == model::kAccessAclXattr || name == model::kDefaultAclXattr;
}

void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Guard(req, "getxattr", [&] {
    auto lookup = Fs(req).GetXattr(ino, name);
    if (!lookup.ok()) return ReplyStatus(req, lookup.status());
    using Outcome = SnapshotFs::XattrLookup::Outcome;
    switch (lookup->outcome) {
      case Outcome::kValue: return ReplyXattrValue(req, lookup->value, size);
      case Outcome::kNoneHere:
        // Like a filesystem without attributes, so `ls -l` stops asking for
        // security labels on every file. Never for an ACL: `ls` takes ENOTSUP
        // for the whole filesystem (it keeps one answer per st_dev, and the
        // mount has one), so an ACL elsewhere would lose its '+'; and where
        // the kernel enforces ACLs, ENOTSUP would deny access.
        if (!IsAclName(name)) return (void)fuse_reply_err(req, ENOTSUP);
        [[fallthrough]];
      case Outcome::kAbsent: return (void)fuse_reply_err(req, ENODATA);
    }
  });
}

void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Guard(req, "listxattr", [&] {
    auto names = Fs(req).ListXattr(ino);
    if (!names.ok()) return ReplyStatus(req, names.status());
    ReplyXattrValue(req, *names, size);
  });
}

void Lseek(fuse_req_t req, fuse_ino_t, off_t off, int whence, struct fuse_file_info* fi) {
  Guard(req, "lseek", [&] {
    if ((whence != SEEK_DATA && whence != SEEK_HOLE) || off < 0)
      return (void)fuse_reply_err(req, EINVAL);
    auto* file = reinterpret_cast<FileHandle*>(fi->fh);
    auto at = Fs(req).Seek(*file, static_cast<uint64_t>(off), whence);
    if (!at.ok()) return ReplyStatus(req, at.status());
    if (!at->has_value()) return (void)fuse_reply_err(req, ENXIO);
    fuse_reply_lseek(req, static_cast<off_t>(**at));
  });
}

// Everything that would change the tree.
void Rofs(fuse_req_t req) {
  fuse_reply_err(req, EROFS);
}
void SetAttr(fuse_req_t req, fuse_ino_t, struct stat*, int, struct fuse_file_info*) {
  Rofs(req);
}
void MkNod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
  Rofs(req);
}
void MkDir(fuse_req_t req, fuse_ino_t, const char*, mode_t) {
  Rofs(req);
}
void Unlink(fuse_req_t req, fuse_ino_t, const char*) {
  Rofs(req);
}
void RmDir(fuse_req_t req, fuse_ino_t, const char*) {
  Rofs(req);
}
void SymLink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
  Rofs(req);
}
void Rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) {
  Rofs(req);
}
void Link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
  Rofs(req);
}
void Write(fuse_req_t req, fuse_ino_t, const char*, size_t, off_t, struct fuse_file_info*) {
  Rofs(req);
}
void Create(fuse_req_t req, fuse_ino_t, const char*, mode_t, struct fuse_file_info*) {
  Rofs(req);
}
void SetXattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) {
  Rofs(req);
}
void RemoveXattr(fuse_req_t req, fuse_ino_t, const char*) {
  Rofs(req);
}
void Fallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, struct fuse_file_info*) {
  Rofs(req);
}
void CopyFileRange(fuse_req_t req, fuse_ino_t, off_t, struct fuse_file_info*, fuse_ino_t, off_t,
                   struct fuse_file_info*, size_t, int) {
  Rofs(req);
}

struct fuse_lowlevel_ops MakeOps() {
  struct fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = Init;
  ops.lookup = Lookup;
  ops.forget = Forget;
  ops.forget_multi = ForgetMulti;
  ops.getattr = GetAttr;
  ops.readlink = ReadLink;
  ops.open = Open;
  ops.read = Read;
  ops.release = Release;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.readdirplus = ReadDirPlus;
  ops.releasedir = ReleaseDir;
  ops.statfs = StatFs;
  ops.getxattr = GetXattr;
  ops.listxattr = ListXattr;
  ops.lseek = Lseek;
  ops.setattr = SetAttr;
  ops.mknod = MkNod;
  ops.mkdir = MkDir;
  ops.unlink = Unlink;
  ops.rmdir = RmDir;
  ops.symlink = SymLink;
  ops.rename = Rename;
  ops.link = Link;
  ops.write = Write;
  ops.create = Create;
  ops.setxattr = SetXattr;
  ops.removexattr = RemoveXattr;
  ops.fallocate = Fallocate;
  ops.copy_file_range = CopyFileRange;
  return ops;
}

}  // namespace

const struct fuse_lowlevel_ops& LowLevelOps() {
  static const struct fuse_lowlevel_ops ops = MakeOps();
  return ops;
}

}  // namespace coffer::fs
