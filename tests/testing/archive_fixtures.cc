#include "tests/testing/archive_fixtures.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "tests/testing/fs_fixtures.h"

namespace coffer::testing {
namespace {

void Check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + std::strerror(errno));
}

void SetTimes(const std::string& path, time_t sec, long nsec) {
  struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  Check(utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0, "utimensat " + path);
}

void MakeDir(const std::string& path, mode_t mode) {
  Check(mkdir(path.c_str(), mode) == 0 || errno == EEXIST, "mkdir " + path);
  Check(chmod(path.c_str(), mode) == 0, "chmod " + path);  // past the umask
}

void MakeFile(const std::string& path, std::string_view content, mode_t mode) {
  WriteFile(path, content);
  Check(chmod(path.c_str(), mode) == 0, "chmod " + path);
}

// A version 2 file capability (linux/capability.h, VFS_CAP_REVISION_2):
// cap_net_raw (13) permitted, effective flag set.
std::string CapabilityBlob() {
  std::string blob(20, '\0');
  const uint32_t words[5] = {0x02000001, 1u << 13, 0, 0, 0};
  for (int w = 0; w < 5; ++w) {
    for (int b = 0; b < 4; ++b) blob[4 * w + b] = static_cast<char>(words[w] >> (8 * b));
  }
  return blob;
}

}  // namespace

std::string MustRun(const std::vector<std::string>& argv) {
  std::string out;
  int rc = RunCommand(argv, &out);
  if (rc != 0) {
    std::string command;
    for (const auto& a : argv) command += a + " ";
    throw std::runtime_error(command + "exited with " + std::to_string(rc) + ": " + out);
  }
  return out;
}

void MakeContainerRoot(const std::string& root) {
  MakeDir(root, 0755);
  for (const char* dir : {"/etc", "/usr", "/usr/bin", "/usr/sbin", "/dev", "/run", "/var",
                          "/var/lib", "/home", "/srv"}) {
    MakeDir(root + dir, 0755);
  }
  MakeDir(root + "/tmp", 01777);
  MakeDir(root + "/var/mail", 02775);
  MakeFile(root + "/etc/hostname", "ct100\n", 0644);
  MakeFile(root + "/etc/shadow", "root:*:19000:0:99999:7:::\n", 0640);
  Check(lchown((root + "/etc/shadow").c_str(), 0, 42) == 0, "chown shadow");
  MakeFile(root + "/etc/gshadow", "", 0);

  // Names: a newline, bytes that are not UTF-8, UTF-8, shell-hostile, and
  // a name longer than the 100 bytes of a ustar header's name field.
  MakeFile(root + "/home/line\nbreak", "newline in the name", 0644);
  MakeFile(root + "/home/latin1-\xe9\xff", "not UTF-8", 0644);
  MakeFile(root + "/home/caf\xc3\xa9-\xc3\xbc", "UTF-8", 0644);
  MakeFile(root + "/home/with space & 'quotes'", "shell-hostile", 0644);
  MakeFile(root + "/home/" + std::string(120, 'x'), "a name over 100 bytes", 0644);
  MakeFile(root + "/home/" + std::string(255, 'n'), "the longest name", 0644);
  // A path of about 1,700 bytes in deep directories (GNU tar cannot extract
  // or compare paths beyond PATH_MAX, so stay below it).
  std::string deep = root + "/srv";
  for (int i = 0; i < 8; ++i) {
    deep += "/level" + std::to_string(i) + std::string(200, 'd');
    MakeDir(deep, 0755);
  }
  MakeFile(deep + "/bottom-" + std::string(200, 'b'), "deep", 0644);

  // Contents: several chunks, a big hole, a file that is all hole.
  MakeFile(root + "/var/lib/big.bin", RandomBytes((5 << 20) + 17, 42), 0644);
  MakeSparseFile(root + "/var/lib/disk.img", (64 << 20) + 123, {0, 40 << 20}, 65536);
  MakeSparseFile(root + "/var/lib/all-hole", 10 << 20, {}, 0);
  MakeFile(root + "/var/lib/empty", "", 0644);

  // Hard links: three names in two directories, and a pair in one.
  MakeFile(root + "/usr/bin/tool", RandomBytes(300000, 7), 0755);
  Check(link((root + "/usr/bin/tool").c_str(), (root + "/usr/bin/tool-alias").c_str()) == 0,
        "link");
  Check(link((root + "/usr/bin/tool").c_str(), (root + "/usr/sbin/tool").c_str()) == 0, "link");
  MakeFile(root + "/etc/pair-a", "linked twice", 0600);
  Check(link((root + "/etc/pair-a").c_str(), (root + "/etc/pair-b").c_str()) == 0, "link");

  // Devices, a fifo, symlinks.
  Check(mknod((root + "/dev/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0, "mknod null");
  Check(mknod((root + "/dev/loop0").c_str(), S_IFBLK | 0660, makedev(7, 0)) == 0, "mknod loop0");
  Check(mknod((root + "/dev/odd").c_str(), S_IFCHR | 0600, makedev(300, 70000)) == 0, "mknod odd");
  Check(lchown((root + "/dev/loop0").c_str(), 0, 6) == 0, "chown loop0");
  Check(mkfifo((root + "/run/initctl").c_str(), 0600) == 0, "mkfifo");
  Check(symlink("usr/bin", (root + "/bin").c_str()) == 0, "symlink");
  Check(symlink("/nonexistent/target", (root + "/home/dangling").c_str()) == 0, "symlink");
  Check(symlink("tool", (root + "/usr/bin/tool-symlink").c_str()) == 0, "symlink");

  // Owners the host does not have.
  MakeFile(root + "/home/owned", "uid 12345, gid 23456", 0640);
  Check(lchown((root + "/home/owned").c_str(), 12345, 23456) == 0, "chown");
  MakeDir(root + "/home/user", 0700);
  Check(lchown((root + "/home/user").c_str(), 12345, 23456) == 0, "chown");
  MakeFile(root + "/home/user/.profile", "PATH=/bin\n", 0644);
  Check(lchown((root + "/home/user/.profile").c_str(), 12345, 23456) == 0, "chown");
  Check(lchown((root + "/usr/bin/tool-symlink").c_str(), 12345, 23456) == 0, "lchown");

  // Modes.
  MakeFile(root + "/usr/bin/su", "#!/bin/sh\n", 04755);
  MakeFile(root + "/usr/bin/wall", "#!/bin/sh\n", 02755);
  MakeDir(root + "/srv/readonly", 0755);
  MakeFile(root + "/srv/readonly/inside", "in a read-only directory", 0444);
  Check(chmod((root + "/srv/readonly").c_str(), 0555) == 0, "chmod");

  // xattrs with binary values, and a file capability.
  SetXattr(root + "/home/owned", "user.binary", std::string("\0\x01\xff\x80 end", 8));
  SetXattr(root + "/home/owned", "user.big", RandomBytes(2000, 9));
  SetXattr(root + "/home/user", "user.dir", "on a directory");
  MakeFile(root + "/usr/bin/ping", "#!/bin/sh\n", 0755);
  std::string out;
  if (RunCommand({"setcap", "cap_net_raw+ep", root + "/usr/bin/ping"}, &out) != 0) {
    SetXattr(root + "/usr/bin/ping", "security.capability", CapabilityBlob());
  }

  // ACLs: a host user by name (GNU tar writes names), ids the host lacks,
  // and a default ACL on a directory.
  MakeFile(root + "/srv/acl-file", "with an ACL", 0640);
  MustRun({"setfacl", "-m", "u:daemon:r,u:12345:rw,g:23456:r,g:bin:rw", root + "/srv/acl-file"});
  MakeDir(root + "/srv/shared", 02770);
  MustRun({"setfacl", "-m", "u:12345:rwx,g:23456:rx", root + "/srv/shared"});
  MustRun({"setfacl", "-d", "-m", "u:12345:rwx,g:23456:rx,o::-", root + "/srv/shared"});
  MakeFile(root + "/srv/shared/inherited", "took the default ACL", 0660);
  MakeDir(root + "/srv/only-default", 0755);
  MustRun({"setfacl", "-d", "-m", "u:daemon:rx", root + "/srv/only-default"});

  // Nanosecond times, directories last (what is made inside changes them).
  long nsec = 1;
  for (const char* path :
       {"/etc/hostname", "/etc/shadow", "/home/owned", "/usr/bin/tool", "/var/lib/big.bin",
        "/var/lib/disk.img", "/dev/null", "/run/initctl", "/srv/acl-file", "/srv/shared/inherited",
        "/home/dangling", "/bin", "/usr/bin/tool-symlink"}) {
    SetTimes(root + path, 1'700'000'000 + nsec * 1000, 123'456'789 - nsec);
    ++nsec;
  }
  SetTimes(deep, 1'600'000'000, 999'999'999);
  for (const char* dir : {"/srv/shared", "/srv/readonly", "/home/user", "/usr/bin", "/dev", "/etc",
                          "/home", "/srv", "/var/lib", "/var", "/usr", "/run", "/tmp", "/var/mail",
                          "/srv/only-default", "/usr/sbin"}) {
    SetTimes(root + dir, 1'650'000'000 + nsec * 1000, 1'000 * nsec);
    ++nsec;
  }
}

void MakeVzdumpConfig(const std::string& dir) {
  MakeDir(dir, 0755);
  MakeDir(dir + "/etc", 0755);
  MakeDir(dir + "/etc/vzdump", 0755);
  MakeFile(dir + "/etc/vzdump/pct.conf",
           "arch: amd64\nhostname: ct100\nmemory: 512\nostype: debian\n"
           "rootfs: local-lvm:vm-100-disk-0,size=8G\nunprivileged: 1\n",
           0644);
  MakeFile(dir + "/etc/vzdump/pct.fw", "[OPTIONS]\nenable: 1\n", 0644);
  SetTimes(dir + "/etc/vzdump/pct.conf", 1'750'000'000, 111'111'111);
  SetTimes(dir + "/etc/vzdump/pct.fw", 1'750'000'001, 222'222'222);
}

void MakeVzdumpTar(const std::string& config_dir, const std::string& root, const std::string& out) {
  // pve-container src/PVE/VZDump/LXC.pm writes to standard output, which
  // goes to the compressor: "tar cpf - ...".
  MustRun({"sh",
           "-c",
           "tar \"$@\" > \"$0\"",
           out,
           "cpf",
           "-",
           "--totals",
           "--one-file-system",
           "-p",
           "--sparse",
           "--numeric-owner",
           "--acls",
           "--xattrs",
           "--xattrs-include=user.*",
           "--xattrs-include=security.capability",
           "--warning=no-file-ignored",
           "--warning=no-xattr-write",
           "--directory=" + config_dir,
           "./etc/vzdump/pct.conf",
           "./etc/vzdump/pct.fw",
           "--directory=" + root,
           "--no-anchored",
           "--exclude=lost+found",
           "--anchored",
           "--exclude=./tmp/?*",
           "--exclude=./var/tmp/?*",
           "--exclude=./var/run/?*.pid",
           "./"});
}

std::string Compress(const std::string& path, const std::string& tool) {
  if (tool == "none") return path;
  if (tool == "zstd") {
    MustRun({"zstd", "-q", "-f", "--threads=2", path, "-o", path + ".zst"});
    return path + ".zst";
  }
  if (tool == "gzip") {
    MustRun({"sh", "-c", "gzip --rsyncable -c \"$0\" > \"$0.gz\"", path});
    return path + ".gz";
  }
  if (tool == "lzop") {
    MustRun({"lzop", "-q", "-f", path, "-o", path + ".lzo"});
    return path + ".lzo";
  }
  throw std::runtime_error("no compressor " + tool);
}

std::vector<std::string> AclListing(const std::string& root) {
  std::string out = MustRun({"sh", "-c", "cd \"$0\" && getfacl -R -P -n .", root});
  std::vector<std::string> listings;
  for (size_t begin = 0; begin < out.size();) {
    size_t end = out.find("\n\n", begin);
    if (end == std::string::npos) end = out.size();
    if (end > begin) listings.push_back(out.substr(begin, end - begin));
    begin = end + 2;
  }
  return listings;
}

std::string MakeSmallContainerArchive(const std::string& stage, const std::string& name,
                                      const std::string& hostname, const std::string& tool,
                                      const std::string& folder) {
  const std::string root = stage + "/" + name + ".root";
  const std::string config = stage + "/" + name + ".config";
  for (const std::string& dir : {root, root + "/etc", root + "/var"}) {
    if (mkdir(dir.c_str(), 0755) != 0)
      throw std::runtime_error("mkdir " + dir + ": " + std::strerror(errno));
  }
  WriteFile(root + "/etc/hostname", hostname + "\n");
  WriteFile(root + "/var/data.bin", RandomBytes(700000, 11));
  if (link((root + "/var/data.bin").c_str(), (root + "/var/data.link").c_str()) != 0 ||
      symlink("data.bin", (root + "/var/data.symlink").c_str()) != 0) {
    throw std::runtime_error("link in " + root + ": " + std::strerror(errno));
  }
  MakeVzdumpConfig(config);
  const std::string tar = stage + "/" + name + ".tar";
  MakeVzdumpTar(config, root, tar);
  return MoveInto(Compress(tar, tool), folder);
}

std::string MoveInto(const std::string& path, const std::string& folder) {
  const std::string moved = folder + path.substr(path.rfind('/'));
  if (rename(path.c_str(), moved.c_str()) != 0) {
    throw std::runtime_error("rename " + path + ": " + std::strerror(errno));
  }
  return moved;
}

}  // namespace coffer::testing
