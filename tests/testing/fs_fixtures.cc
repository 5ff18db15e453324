#include "tests/testing/fs_fixtures.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>

namespace coffer::testing {

static void Check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + std::strerror(errno));
}

TempDir::TempDir(std::string_view prefix, const std::string& parent) {
  const char* base = std::getenv("COFFER_TEST_TMPDIR");
  std::string root = !parent.empty() ? parent : base && *base ? base : "/tmp";
  mkdir(root.c_str(), 0755);
  std::string pattern = root + "/" + std::string(prefix) + "-XXXXXX";
  Check(mkdtemp(pattern.data()) != nullptr, "mkdtemp " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  RemoveTree(path_);
}

void RemoveTree(const std::string& path) {
  // Make everything writable first: tests create read-only directories.
  nftw(
      path.c_str(),
      [](const char* p, const struct stat* st, int type, struct FTW*) {
        if (type == FTW_D || type == FTW_DNR) chmod(p, 0700);
        return 0;
      },
      64, FTW_PHYS);
  nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int, struct FTW*) {
        remove(p);
        return 0;
      },
      64, FTW_DEPTH | FTW_PHYS);
}

void WriteFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  Check(static_cast<bool>(out), "write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, size - i));
  }
  return out;
}

void MakeSparseFile(const std::string& path, uint64_t size, const std::vector<uint64_t>& data_at,
                    size_t chunk) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  Check(fd >= 0, "open " + path);
  Check(ftruncate(fd, static_cast<off_t>(size)) == 0, "truncate");
  uint64_t seed = 1;
  for (uint64_t off : data_at) {
    std::string data = RandomBytes(chunk, seed++);
    Check(pwrite(fd, data.data(), data.size(), static_cast<off_t>(off)) ==
              static_cast<ssize_t>(data.size()),
          "pwrite");
  }
  close(fd);
}

void SetXattr(const std::string& path, const std::string& name, const std::string& value) {
  Check(lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0) == 0,
        "setxattr " + path);
}

static void SetTimes(const std::string& path, time_t sec, long nsec) {
  struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  Check(utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0, "utimensat " + path);
}

void MakeKitchenSinkTree(const std::string& root) {
  mkdir(root.c_str(), 0755);
  WriteFile(root + "/plain.txt", "hello coffer\n");
  WriteFile(root + "/empty", "");
  WriteFile(root + "/big.bin", RandomBytes(3 * 1024 * 1024 + 17, 42));
  WriteFile(root + "/line\nbreak", "newline in the name");
  WriteFile(root + "/latin1-\xe9\xff", "not UTF-8");
  WriteFile(root + "/" + std::string(255, 'n'), "longest name");
  WriteFile(root + "/with space & 'quotes'", "shell-hostile");
  MakeSparseFile(root + "/sparse.img", 64ull * 1024 * 1024,
                 {0, 20 * 1024 * 1024, 64ull * 1024 * 1024 - 4096}, 4096);
  WriteFile(root + "/setuid", "#!/bin/sh\n");
  chmod((root + "/setuid").c_str(), 04755);
  mkdir((root + "/sticky").c_str(), 01777);
  mkdir((root + "/readonly-dir").c_str(), 0755);
  WriteFile(root + "/readonly-dir/inside", "in a read-only directory");
  chmod((root + "/readonly-dir").c_str(), 0555);
  Check(link((root + "/plain.txt").c_str(), (root + "/hardlink").c_str()) == 0, "link");
  mkdir((root + "/sub").c_str(), 0750);
  Check(link((root + "/plain.txt").c_str(), (root + "/sub/hardlink2").c_str()) == 0, "link");
  Check(symlink("plain.txt", (root + "/link").c_str()) == 0, "symlink");
  Check(symlink("/nonexistent/target", (root + "/dangling").c_str()) == 0, "symlink");
  Check(mkfifo((root + "/fifo").c_str(), 0640) == 0, "mkfifo");
  SetXattr(root + "/plain.txt", "user.coffer", "xattr value");
  SetXattr(root + "/sub", "user.dir", std::string("bin\0ary", 7));
  // Deeper than PATH_MAX (4096) in total.
  std::string deep = root + "/deep";
  std::string relative;
  for (int i = 0; i < 24; ++i) {
    std::string name = "level" + std::to_string(i) + std::string(200, 'd');
    relative += "/" + name;
  }
  // mkdir by steps relative to an fd, since the full path is too long.
  mkdir(deep.c_str(), 0755);
  int fd = open(deep.c_str(), O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < 24; ++i) {
    std::string name = "level" + std::to_string(i) + std::string(200, 'd');
    Check(mkdirat(fd, name.c_str(), 0755) == 0, "mkdirat");
    int next = openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY);
    close(fd);
    fd = next;
  }
  int leaf = openat(fd, "bottom.txt", O_WRONLY | O_CREAT, 0644);
  Check(leaf >= 0 && write(leaf, "deep", 4) == 4, "write deep");
  close(leaf);
  close(fd);
  if (geteuid() == 0) {
    Check(mknod((root + "/null-device").c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0, "mknod");
    WriteFile(root + "/owned-by-nobody", "owner 65534");
    Check(lchown((root + "/owned-by-nobody").c_str(), 65534, 65534) == 0, "chown");
    Check(lchown((root + "/link").c_str(), 65534, 65534) == 0, "lchown");
  }
  SetTimes(root + "/plain.txt", 1'600'000'000, 123'456'789);
  SetTimes(root + "/link", 1'500'000'000, 987'654'321);
  SetTimes(root + "/sub", 1'400'000'000, 5);
  SetTimes(root + "/readonly-dir", 1'300'000'000, 7);
}

namespace {

struct Node {
  struct stat st;
  std::string content_digest;
  std::string link_target;
  std::map<std::string, std::string> xattrs;
};

std::map<std::string, std::string> Xattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  char names[4096];
  ssize_t n = llistxattr(path.c_str(), names, sizeof names);
  for (ssize_t i = 0; i < n;) {
    std::string key(names + i);
    i += static_cast<ssize_t>(key.size()) + 1;
    char value[4096];
    ssize_t v = lgetxattr(path.c_str(), key.c_str(), value, sizeof value);
    if (v >= 0) out[key] = std::string(value, static_cast<size_t>(v));
  }
  return out;
}

// Walks with relative fds so that deep paths work.
void Collect(int dirfd, const std::string& rel, std::map<std::string, Node>& out) {
  int fd = dup(dirfd);
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) return;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = rel.empty() ? name : rel + "/" + name;
    Node node;
    fstatat(dirfd, name.c_str(), &node.st, AT_SYMLINK_NOFOLLOW);
    std::string proc = "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
    node.xattrs = Xattrs(proc);
    if (S_ISLNK(node.st.st_mode)) {
      char buf[4096];
      ssize_t n = readlinkat(dirfd, name.c_str(), buf, sizeof buf);
      node.link_target.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
    } else if (S_ISREG(node.st.st_mode)) {
      int f = openat(dirfd, name.c_str(), O_RDONLY);
      std::string content;
      char buf[65536];
      ssize_t n;
      while (f >= 0 && (n = read(f, buf, sizeof buf)) > 0)
        content.append(buf, static_cast<size_t>(n));
      if (f >= 0) close(f);
      node.content_digest =
          std::to_string(std::hash<std::string>{}(content)) + ":" + std::to_string(content.size());
    }
    out[path] = node;
    if (S_ISDIR(node.st.st_mode)) {
      int sub = openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (sub >= 0) {
        Collect(sub, path, out);
        close(sub);
      }
    }
  }
  closedir(dir);
}

std::map<std::string, Node> CollectTree(const std::string& root) {
  std::map<std::string, Node> out;
  int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    Collect(fd, "", out);
    close(fd);
  }
  return out;
}

}  // namespace

std::vector<std::string> CompareTrees(const std::string& expected, const std::string& actual,
                                      bool compare_owners) {
  auto a = CollectTree(expected), b = CollectTree(actual);
  std::vector<std::string> diffs;
  std::map<ino_t, std::string> a_inodes, b_inodes;
  for (const auto& [path, x] : a) {
    auto it = b.find(path);
    if (it == b.end()) {
      diffs.push_back("missing: " + path);
      continue;
    }
    const Node& y = it->second;
    auto diff = [&](const std::string& what) { diffs.push_back(what + " differs: " + path); };
    if ((x.st.st_mode & S_IFMT) != (y.st.st_mode & S_IFMT)) diff("type");
    if (!S_ISLNK(x.st.st_mode) && x.st.st_mode != y.st.st_mode) diff("mode");
    if (compare_owners && (x.st.st_uid != y.st.st_uid || x.st.st_gid != y.st.st_gid)) diff("owner");
    if (S_ISREG(x.st.st_mode) && x.st.st_size != y.st.st_size) diff("size");
    if (x.content_digest != y.content_digest) diff("content");
    if (x.link_target != y.link_target) diff("symlink target");
    if (x.xattrs != y.xattrs) diff("xattrs");
    if (x.st.st_mtim.tv_sec != y.st.st_mtim.tv_sec || x.st.st_mtim.tv_nsec != y.st.st_mtim.tv_nsec)
      diff("mtime");
    if (S_ISCHR(x.st.st_mode) && x.st.st_rdev != y.st.st_rdev) diff("device number");
    // Holes stay holes: the copy may not use more than a little more space.
    if (S_ISREG(x.st.st_mode) && y.st.st_blocks > x.st.st_blocks + 64) diff("allocated blocks");
    // Hardlinks: paths sharing an inode in `expected` share one in `actual`.
    if (S_ISREG(x.st.st_mode) && x.st.st_nlink > 1) {
      auto [ai, a_new] = a_inodes.emplace(x.st.st_ino, path);
      auto [bi, b_new] = b_inodes.emplace(y.st.st_ino, path);
      if (ai->second != bi->second) diff("hardlink");
      if (x.st.st_nlink != y.st.st_nlink) diff("link count");
    }
  }
  for (const auto& [path, y] : b) {
    if (!a.count(path)) diffs.push_back("unexpected: " + path);
  }
  return diffs;
}

int RunCommand(const std::vector<std::string>& argv, std::string* out,
               const std::vector<std::string>& extra_env, const std::string& stdin_data) {
  int out_pipe[2], in_pipe[2];
  Check(pipe(out_pipe) == 0 && pipe(in_pipe) == 0, "pipe");
  pid_t pid = fork();
  Check(pid >= 0, "fork");
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(out_pipe[1], 2);
    close(in_pipe[1]);
    close(out_pipe[0]);
    for (const auto& kv : extra_env) putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  // Feed stdin from a thread-free loop: small inputs fit the pipe buffer; larger
  // ones are written before reading, which the child drains as it runs.
  size_t written = 0;
  while (written < stdin_data.size()) {
    ssize_t n = write(in_pipe[1], stdin_data.data() + written, stdin_data.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  close(in_pipe[1]);
  std::string captured;
  char buf[65536];
  ssize_t n;
  while ((n = read(out_pipe[0], buf, sizeof buf)) > 0) captured.append(buf, static_cast<size_t>(n));
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (out) *out = captured;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

bool Mounted(const std::string& mountpoint) {
  std::ifstream mounts("/proc/mounts");
  for (std::string line; std::getline(mounts, line);) {
    if (line.find(" " + mountpoint + " ") != std::string::npos) return true;
  }
  return false;
}

}  // namespace coffer::testing
