#!/usr/bin/env bash
# The Debian package, installed as a user would: apt installs it with the
# packages it declares, `coffer --version` and `man coffer` work from
# /usr, and purging it leaves none of its files behind.
#   tests/package/install_test.sh PATH/coffer_VERSION_ARCH.deb
# Needs root and changes the machine it runs on (CI runs it on a fresh one).
# Exit 0: passed; 1: failed, with the reason on stderr; 77: skipped (not root).
set -euo pipefail

deb=${1:?usage: install_test.sh PATH/coffer_VERSION_ARCH.deb}
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "install_test: skipped: installing a package needs root" >&2; exit 77; }
[ -f "$deb" ] || fail "no package at $deb"
deb=$(realpath "$deb")

if dpkg-query -W -f='${Status}' coffer 2>/dev/null | grep -q "install ok installed"; then
  fail "a coffer package is installed already; this test would remove it"
fi

version=$(dpkg-deb -f "$deb" Version)
depends=$(dpkg-deb -f "$deb" Depends)
for library in librocksdb libsodium libzstd libfuse3 libgrpc++ libprotobuf libcurl fuse3; do
  [[ $depends == *"$library"* ]] || fail "Depends does not name $library: $depends"
done

# lintian, Debian's own judge of a package (man pages gzipped, permissions,
# the control file, ...). Three of its errors wait on decisions that are
# the maintainers' to make, not the build's: the license (the copyright
# file), a changelog, and the address the Maintainer field gives.
lintian_known='no-copyright-file|no-changelog|bogus-mail-host'
complaints=$(lintian --tag-display-limit 0 "$deb" 2>/dev/null | grep -E '^[EW]: ' |
               grep -vE "^[EW]: coffer: ($lintian_known)( |$)" || true)
[ -z "$complaints" ] || fail "lintian: $complaints"

DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$deb" >/dev/null ||
  fail "apt-get install $deb"
trap 'dpkg --purge coffer >/dev/null 2>&1 || true' EXIT
mapfile -t files < <(dpkg -L coffer | while read -r path; do [ -d "$path" ] || echo "$path"; done)

[ "$(command -v coffer)" = /usr/bin/coffer ] || fail "coffer is not /usr/bin/coffer: $(command -v coffer)"
reported=$(/usr/bin/coffer --version)
[[ $reported == "coffer $version"* ]] || fail "coffer --version says '$reported', the package is $version"
[ "$(readlink /usr/bin/coffer-vzdump-hook)" = coffer ] || fail "/usr/bin/coffer-vzdump-hook is not a link to coffer"
[ "$(man -w coffer)" = /usr/share/man/man1/coffer.1.gz ] || fail "man -w coffer: $(man -w coffer 2>&1)"
# Rendered whole before it is searched (grep -q would leave man writing into a
# closed pipe, which pipefail counts as a failure), and searched with the
# spaces a justified line may widen.
renders() {  # renders PAGE REGEX
  local page
  page=$(MANWIDTH=80 man "$1" 2>/dev/null) || fail "man $1 fails"
  grep -qE "$2" <<<"$page" || fail "man $1 does not render (no /$2/ in it)"
}
renders coffer "coffer +sync"
renders coffer-sync "OBJECT +STORAGE"
renders mount.coffer "MOUNT\(8\) +AND +/ETC/FSTAB"

# Bash completion where bash-completion loads it from: the script the
# installed coffer prints, and it completes a command name.
completion=/usr/share/bash-completion/completions/coffer
[ -f "$completion" ] || fail "the package has no $completion"
cmp -s "$completion" <(/usr/bin/coffer completion bash) ||
  fail "$completion is not what /usr/bin/coffer completion bash prints"
offered=$(bash -c 'source "$1" || exit 1
  COMP_WORDS=(coffer sn) COMP_CWORD=1 COMP_LINE="coffer sn" COMP_POINT=9
  _coffer coffer sn coffer && printf "%s\n" "${COMPREPLY[@]}"' bash "$completion") ||
  fail "bash cannot source $completion"
[ "$offered" = snapshots ] || fail "$completion completes 'coffer sn' as '$offered', not snapshots"

# systemd judges the units; the template through an instance, whose name is
# an escaped repository path as `systemd-escape --path` makes it.
units=/usr/lib/systemd/system
for unit in coffer-serve@.service coffer-scheduler.service; do
  [ -f "$units/$unit" ] || fail "the package has no $units/$unit"
done
work=$(mktemp -d)
trap 'rm -rf "$work"; dpkg --purge coffer >/dev/null 2>&1 || true' EXIT
mkdir "$work/units"
ln -s "$units/coffer-serve@.service" "$work/units/coffer-serve@$(systemd-escape --path /srv/backup).service"
verified=$(systemd-analyze verify --man=no "$work"/units/coffer-serve@*.service \
  "$units/coffer-scheduler.service" 2>&1) || fail "systemd-analyze verify: $verified"
! grep -q coffer <<<"$verified" || fail "systemd-analyze verify has remarks: $verified"

# A backup and a restore with the installed binary, served by the serve
# unit's own command line (systemd itself is not running here).
mkdir "$work/data" && echo "kept by the packaged coffer" > "$work/data/file"
export COFFER_PASSPHRASE=package-test
coffer -q -r "$work/repo" init --kdf-ops 1 --kdf-memory 8K || fail "coffer init"
exec_start=$(sed -n 's/^ExecStart=//p' "$units/coffer-serve@.service")
exec_start=${exec_start//%f/$work/repo}
exec_start=${exec_start//\$COFFER_SERVE_OPTIONS/}
$exec_start 2>"$work/serve.err" &
served_by=$!
for _ in $(seq 100); do [ -S "$work/repo/serve.sock" ] && break; sleep 0.1; done
[ -S "$work/repo/serve.sock" ] || fail "the serve unit's command did not listen: $(cat "$work/serve.err")"
coffer -q -r "$work/repo" backup --group host/package "$work/data" || fail "coffer backup"
[ "$(pgrep -f "serve -r $work/repo")" = "$served_by" ] || fail "the backup was not served by the unit's server"
kill -TERM "$served_by"
wait "$served_by" || fail "the unit's server did not exit cleanly on SIGTERM"
coffer -q -r "$work/repo" restore host/package/latest --target "$work/restored" || fail "coffer restore"
cmp "$work/data/file" "$work/restored$work/data/file" || fail "the restored file differs"

# mount(8) with the type coffer runs /usr/sbin/mount.coffer: from an
# fstab-style line (noauto, the passphrase in a file), then from -t, and
# umount(8) ends each mount.
if [ -e /dev/fuse ]; then
  [ "$(readlink /usr/sbin/mount.coffer)" = ../bin/coffer ] || fail "/usr/sbin/mount.coffer is not a link to coffer"
  echo "$COFFER_PASSPHRASE" > "$work/pass"
  mkdir "$work/mnt"
  printf '%s %s coffer noauto,nofail,passphrase-file=%s,x-systemd.automount 0 0\n' \
    "$work/repo" "$work/mnt" "$work/pass" > "$work/fstab"
  (unset COFFER_PASSPHRASE; mount -T "$work/fstab" "$work/mnt") || fail "mount -T fstab"
  cmp "$work/data/file" "$work/mnt/host/package/latest$work/data/file" ||
    { umount "$work/mnt"; fail "the file read through the fstab mount differs"; }
  umount "$work/mnt" || fail "umount of the fstab mount"
  ! mountpoint -q "$work/mnt" || fail "$work/mnt is still mounted after umount"
  (unset COFFER_PASSPHRASE; mount -t coffer "$work/repo" "$work/mnt" -o "ro,passphrase-file=$work/pass") ||
    fail "mount -t coffer"
  [ -L "$work/mnt/host/package/latest" ] || { umount "$work/mnt"; fail "no snapshot in the -t coffer mount"; }
  umount "$work/mnt" || fail "umount of the -t coffer mount"
  # mount(8) passes rw unless told ro: the mount is read-only all the same.
  (unset COFFER_PASSPHRASE; mount -t coffer "$work/repo" "$work/mnt" -o "passphrase-file=$work/pass") ||
    fail "mount -t coffer without ro"
  if touch "$work/mnt/host/new" 2>/dev/null; then umount "$work/mnt"; fail "the mount took a write"; fi
  umount "$work/mnt" || fail "umount of the mount without ro"
  if (unset COFFER_PASSPHRASE; mount -t coffer "$work/repo" "$work/mnt" -o "ro,compress=zstd,passphrase-file=$work/pass") 2>"$work/bad.err"; then
    umount "$work/mnt"; fail "mount -o compress=zstd was accepted"
  fi
  grep -q "unknown mount option compress=zstd" "$work/bad.err" || fail "a bad option was not named: $(cat "$work/bad.err")"
else
  echo "install_test: no /dev/fuse: the mount(8) part is skipped" >&2
fi
# The server the commands started runs the installed binary: stopped before the purge.
pkill -f "serve -r $work/repo" || true
while pgrep -f "serve -r $work/repo" >/dev/null; do sleep 0.1; done

dpkg --purge coffer >/dev/null || fail "dpkg --purge coffer"
dpkg-query -W coffer >/dev/null 2>&1 && fail "dpkg still lists coffer after the purge"
for path in "${files[@]}"; do
  [ -e "$path" ] || [ -L "$path" ] && fail "$path is left after the purge"
done
echo "install_test: $deb ($version): installed, ran and purged; ${#files[@]} files gone"
