// mount.coffer's reading of mount(8)'s call: the arguments mount(8) passes
// (util-linux: SPEC DIR, then -f -n -s -v flags, -o OPTIONS, -t TYPE).
#include "tools/mount_helper.h"

#include <gtest/gtest.h>

namespace coffer::tools {
namespace {

using Args = std::vector<std::string>;

Result<Args> Translate(Args argv) {
  return MountHelperCommand(argv);
}

TEST(MountHelperTest, AnFstabLineBecomesCofferMount) {
  // mount(8) adds rw unless the line says ro: the mount is read-only anyway.
  auto command =
      Translate({"/sbin/mount.coffer", "/srv/backup", "/mnt/backup", "-o",
                 "rw,noauto,passphrase-file=/etc/coffer/pass,x-systemd.automount", "-t", "coffer"});
  ASSERT_TRUE(command.ok()) << command.status().ToString();
  EXPECT_EQ(*command, (Args{"coffer", "--repo=/srv/backup", "--passphrase-file=/etc/coffer/pass",
                            "mount", "--", "/mnt/backup"}));
  command =
      Translate({"/sbin/mount.coffer", "/srv/backup", "/mnt/backup", "-n", "-o",
                 "ro,noauto,nofail,_netdev,passphrase-file=/etc/coffer/pass,x-systemd.automount,"
                 "group=host/web1,cache-size=256M,allow_other,comment=backups"});
  ASSERT_TRUE(command.ok()) << command.status().ToString();
  EXPECT_EQ(*command,
            (Args{"coffer", "--repo=/srv/backup", "--passphrase-file=/etc/coffer/pass", "mount",
                  "--group=host/web1", "--cache-size=256M", "--allow-other", "--", "/mnt/backup"}));
}

TEST(MountHelperTest, AKeyFileAndABucket) {
  auto command =
      Translate({"mount.coffer", "s3://backups/web1", "/mnt/b", "-o", "key-file=/root/k,defaults"});
  ASSERT_TRUE(command.ok()) << command.status().ToString();
  EXPECT_EQ(*command, (Args{"coffer", "--repo=s3://backups/web1", "--key-file=/root/k", "mount",
                            "--", "/mnt/b"}));
}

TEST(MountHelperTest, FakeMountsDoNothing) {
  auto command = Translate({"mount.coffer", "/srv/backup", "/mnt/backup", "-fv"});
  ASSERT_TRUE(command.ok()) << command.status().ToString();
  EXPECT_TRUE(command->empty());
}

TEST(MountHelperTest, UnknownOptionsAreRefusedUnlessSloppy) {
  auto refused = Translate({"mount.coffer", "/srv/backup", "/mnt/backup", "-o", "compress=zstd"});
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("compress=zstd"), std::string::npos)
      << refused.status().message();
  auto valueless =
      Translate({"mount.coffer", "/srv/backup", "/mnt/backup", "-o", "passphrase-file="});
  EXPECT_EQ(valueless.status().code(), Code::kInvalidArgument);
  auto sloppy =
      Translate({"mount.coffer", "/srv/backup", "/mnt/backup", "-s", "-o", "compress=zstd"});
  ASSERT_TRUE(sloppy.ok()) << sloppy.status().ToString();
  EXPECT_EQ(*sloppy, (Args{"coffer", "--repo=/srv/backup", "mount", "--", "/mnt/backup"}));
}

// A value that looks like an option stays a value.
TEST(MountHelperTest, ValuesAreNeverReadAsOptions) {
  auto command =
      Translate({"mount.coffer", "/srv/backup", "/mnt/backup", "-o", "group=--foreground"});
  ASSERT_TRUE(command.ok()) << command.status().ToString();
  EXPECT_EQ(*command, (Args{"coffer", "--repo=/srv/backup", "mount", "--group=--foreground", "--",
                            "/mnt/backup"}));
}

TEST(MountHelperTest, BadCallsAreRefused) {
  EXPECT_FALSE(Translate({"mount.coffer", "/srv/backup"}).ok());
  EXPECT_FALSE(Translate({"mount.coffer", "/a", "/b", "/c"}).ok());
  EXPECT_FALSE(Translate({"mount.coffer", "/a", "/b", "-o"}).ok());
  EXPECT_FALSE(Translate({"mount.coffer", "/a", "/b", "--bogus"}).ok());
  EXPECT_FALSE(Translate({"mount.coffer", "/a", "/b", "-x"}).ok());
}

}  // namespace
}  // namespace coffer::tools
