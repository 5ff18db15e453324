#include "store/ingest/source_meta.h"

#include <grp.h>
#include <pwd.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace coffer::ingest {

const std::string& OwnerNames::User(uid_t uid) {
  auto [it, inserted] = users_.try_emplace(uid);
  if (inserted) {
    char buf[4096];
    struct passwd pw, *result = nullptr;
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &result) == 0 && result) it->second = pw.pw_name;
  }
  return it->second;
}

const std::string& OwnerNames::Group(gid_t gid) {
  auto [it, inserted] = groups_.try_emplace(gid);
  if (inserted) {
    char buf[4096];
    struct group gr, *result = nullptr;
    if (getgrgid_r(gid, &gr, buf, sizeof buf, &result) == 0 && result) it->second = gr.gr_name;
  }
  return it->second;
}

bool EntryTypeOf(mode_t mode, pb::Entry::Type* type) {
  switch (mode & S_IFMT) {
    case S_IFREG: *type = pb::Entry::FILE; return true;
    case S_IFDIR: *type = pb::Entry::DIRECTORY; return true;
    case S_IFLNK: *type = pb::Entry::SYMLINK; return true;
    case S_IFIFO: *type = pb::Entry::FIFO; return true;
    case S_IFCHR: *type = pb::Entry::CHAR_DEVICE; return true;
    case S_IFBLK: *type = pb::Entry::BLOCK_DEVICE; return true;
    default: return false;
  }
}

void FillMetadata(const struct stat& st, OwnerNames& owners, pb::Entry* entry) {
  // A type EntryTypeOf() does not know (a socket) keeps the entry's own.
  pb::Entry::Type type = entry->type();
  if (EntryTypeOf(st.st_mode, &type)) entry->set_type(type);
  entry->set_mode(st.st_mode & 07777);
  entry->set_uid(st.st_uid);
  entry->set_gid(st.st_gid);
  entry->set_user(owners.User(st.st_uid));
  entry->set_group(owners.Group(st.st_gid));
  entry->set_mtime_ns(ToNanos(st.st_mtim));
  entry->set_ctime_ns(ToNanos(st.st_ctim));
  entry->set_inode(st.st_ino);
  entry->set_device(st.st_dev);
  entry->set_nlink(static_cast<uint32_t>(st.st_nlink));
  if (type == pb::Entry::FILE || type == pb::Entry::SYMLINK) entry->set_size(st.st_size);
  if (type == pb::Entry::CHAR_DEVICE || type == pb::Entry::BLOCK_DEVICE)
    entry->set_rdev(st.st_rdev);
}

Status ReadSymlink(int dirfd, const std::string& name, pb::Entry* entry) {
  std::string target(256, '\0');
  for (;;) {
    ssize_t n = readlinkat(dirfd, name.c_str(), target.data(), target.size());
    if (n < 0) return Status::FromErrno(errno, "readlink");
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      break;
    }
    target.resize(target.size() * 2);
  }
  entry->set_symlink_target(target);
  return Status::Ok();
}

std::string ProcFdPath(int dirfd, const std::string& name) {
  return "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
}

namespace {

// Reads every attribute through `list` (llistxattr-like) and `get`
// (lgetxattr-like), sorted by name.
template <typename List, typename Get>
Status ReadXattrsWith(const List& list, const Get& get, pb::Entry* entry) {
  // Most entries have no attributes, and the rest few short names: a
  // buffer on the stack spares an allocation per entry.
  char small[1024];
  std::vector<char> large;
  char* names = small;
  size_t capacity = sizeof small;
  ssize_t len;
  for (;;) {
    len = list(names, capacity);
    if (len >= 0) break;
    if (errno == ENOTSUP) return Status::Ok();
    if (errno != ERANGE) return Status::FromErrno(errno, "listxattr");
    len = list(nullptr, 0);
    if (len < 0) return Status::FromErrno(errno, "listxattr");
    large.resize(static_cast<size_t>(len) + 1);
    names = large.data();
    capacity = large.size();
  }
  if (len == 0) return Status::Ok();
  std::vector<std::string> keys;
  for (ssize_t i = 0; i < len;) {
    std::string key(names + i);
    i += static_cast<ssize_t>(key.size()) + 1;
    if (!key.empty()) keys.push_back(std::move(key));
  }
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    std::string value(256, '\0');
    bool present = true;
    for (;;) {
      ssize_t n = get(key.c_str(), value.data(), value.size());
      if (n >= 0) {
        value.resize(static_cast<size_t>(n));
        break;
      }
      if (errno == ENODATA) {  // removed since the listing
        present = false;
        break;
      }
      if (errno != ERANGE) return Status::FromErrno(errno, "getxattr " + key);
      n = get(key.c_str(), nullptr, 0);
      if (n < 0) return Status::FromErrno(errno, "getxattr " + key);
      value.resize(static_cast<size_t>(n));
    }
    if (!present) continue;
    auto* x = entry->add_xattrs();
    x->set_name(key);
    x->set_value(std::move(value));
  }
  return Status::Ok();
}

}  // namespace

Status ReadXattrs(int dirfd, const std::string& name, pb::Entry* entry) {
  const std::string path = ProcFdPath(dirfd, name);
  return ReadXattrsWith(
      [&](char* names, size_t size) { return llistxattr(path.c_str(), names, size); },
      [&](const char* key, void* value, size_t size) {
        return lgetxattr(path.c_str(), key, value, size);
      },
      entry);
}

Status ReadXattrsOfOpenFile(int fd, pb::Entry* entry) {
  return ReadXattrsWith(
      [fd](char* names, size_t size) { return flistxattr(fd, names, size); },
      [fd](const char* key, void* value, size_t size) { return fgetxattr(fd, key, value, size); },
      entry);
}

}  // namespace coffer::ingest
