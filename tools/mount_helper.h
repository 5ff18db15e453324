// mount.coffer: what mount(8) runs for a filesystem of type "coffer", so that
//   mount -t coffer /srv/backup /mnt/backup -o passphrase-file=/etc/coffer/pass
// and an /etc/fstab line
//   /srv/backup  /mnt/backup  coffer  noauto,passphrase-file=/etc/coffer/pass  0 0
// mount the repository as `coffer mount` does. The installed link
// /usr/sbin/mount.coffer -> coffer makes main() translate its arguments here.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "store/base/status.h"

namespace coffer::tools {

// mount(8)'s helper exit codes (mount(8), "EXIT STATUS").
inline constexpr int kMountExitUsage = 1;
inline constexpr int kMountExitFailure = 32;

// From mount(8)'s call, `mount.coffer SPEC DIR [-fnsv] [-o OPTIONS] [-t TYPE]`
// (argv[0] included), the arguments of the coffer command that mounts SPEC (a
// repository folder, or s3://BUCKET/PREFIX) at DIR. Values are joined to
// their options (--repo=SPEC, --group=G) and DIR follows "--", so that no
// value given in fstab is ever read as an option. Options of -o:
//   passphrase-file=FILE, key-file=FILE   the global options of those names
//   group=GROUP, cache-size=SIZE, allow_other (or allow-other)
//                                         coffer mount's options
//   ro, rw, defaults, noauto, auto, nofail, user, users, nouser, _netdev,
//   nosuid, nodev, noexec, exec, suid, dev, noatime, relatime, atime, x-*,
//   comment=*                             mount(8)'s or systemd's: ignored (the
//                                         mount is read-only whatever rw says:
//                                         mount(8) adds rw unless ro is given)
// Any other option is refused unless -s (sloppy) is given. An empty result
// with OK: -f (fake), nothing to do.
Result<std::vector<std::string>> MountHelperCommand(std::span<const std::string> argv);

}  // namespace coffer::tools
