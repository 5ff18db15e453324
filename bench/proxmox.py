"""The Proxmox VE guest phases of bench/run (`bench/run --only proxmox`): vzdump's
archives stored by `coffer import`, and by restic and borg reading the same archives,
in the same run. See bench/README.md, "Proxmox VE guests".

bench/run imports this module and hands in its package, bench/coffer_bench, as `bench`,
so both time, sync, mount and clean up the same way (Runner, Tool, unmount,
stop_coffer_serve, ...).

Cases, each in repositories of its own:
- vm: a VM of two generated disks (bench/make_vma), day 1 and day 2 (1% of the
  clusters changed, a new uuid and cluster order);
- vm-real: a VM of two ext4 disk images filled with this machine's files (/usr/lib,
  /usr/share), day 2 after changing 1% of the files inside the images;
- ct: a container tar (GNU tar with vzdump's flags) of a copy of /usr trimmed to the
  size, day 2 after changing 1% of the files.
Then the mount of vm-real (coffer against restic) and coffer export of vm and ct.
"""

import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time

# Bump when the data made below changes, so archives kept in bench/work are made again.
DATA_VERSION = 1
SIZES = {
    # Generated disks, real disks (MiB), the container's bytes.
    "full": {"vm_disks_mib": (1536, 512), "real_disks_mib": (1024, 256), "ct_bytes": 1_000_000_000},
    "quick": {"vm_disks_mib": (192, 64), "real_disks_mib": (256, 64), "ct_bytes": 100_000_000},
}
VMIDS = {"vm": 100, "vm-real": 101, "ct": 200}
DAY_STAMPS = ("2026_12_01-02_00_00", "2026_12_02-02_00_00")
CHANGED_PERCENT = 1.0
FILL = 0.7  # share of a real disk's file system filled with files
SOURCE_FILE_CAP = 64 << 20  # the container's copy of /usr leaves out larger files
MOUNT_READS = 3  # each mount read figure is the median of this many reads
PASSES = {True: "PASS", False: "FAIL", None: "n/a"}


class Ctx:
    def __init__(self, bench, runner, coffer, tools, quick):
        self.bench = bench
        self.runner = runner
        self.coffer = coffer
        self.tools = tools
        self.size = "quick" if quick else "full"
        self.sizes = SIZES[self.size]
        self.data = os.path.join(bench.WORK, f"pve-{self.size}")
        self.load = [os.getloadavg()]

    def log(self, msg):
        self.bench.log(msg)

    def note_load(self):
        self.load.append(os.getloadavg())


def q(s):
    return shlex.quote(s)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def keyed_fraction(text):
    """A number in [0, 1) fixed by text: picks the same files in every run."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2 ** 64


# ---------------------------------------------------------------------------------------
# The archives, made once and kept in bench/work/pve-SIZE/ with a stamp


def archive_name(case, day):
    kind = "lxc" if case == "ct" else "qemu"
    ext = "tar.zst" if case == "ct" else "vma.zst"
    return f"vzdump-{kind}-{VMIDS[case]}-{DAY_STAMPS[day - 1]}.{ext}"


def stamp_ok(path, want):
    return os.path.exists(path) and open(path).read() == json.dumps(want)


def make_vma(ctx, out, args):
    """bench/make_vma ARGS, compressed as vzdump does (zstd, all cores)."""
    raw = out[:-len(".zst")]
    sh([os.path.join(ctx.bench.BENCH, "make_vma"), raw] + args)
    sh(["zstd", "-q", "-f", "-T0", "--rm", raw, "-o", out])


def prepare_generated_vm(ctx):
    d = os.path.join(ctx.data, "vm")
    disks = ctx.sizes["vm_disks_mib"]
    want = {"version": DATA_VERSION, "disks": disks, "changed": CHANGED_PERCENT,
            "make_vma": hashlib.sha256(open(os.path.join(ctx.bench.BENCH, "make_vma"), "rb")
                                       .read()).hexdigest()}
    stamp = os.path.join(d, "stamp")
    paths = [os.path.join(d, archive_name("vm", day)) for day in (1, 2)]
    if not stamp_ok(stamp, want):
        t = time.monotonic()
        ctx.log(f"making the generated VM's archives ({' + '.join(map(str, disks))} MiB)")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        sizes = [a for mib in disks for a in ("--disk-mib", str(mib))]
        make_vma(ctx, paths[0], sizes)
        make_vma(ctx, paths[1], sizes + ["--day", "2", "--changed", str(CHANGED_PERCENT)])
        open(stamp, "w").write(json.dumps(want))
        ctx.log(f"generated VM archives in {time.monotonic() - t:.0f} s")
    return {"archives": paths, "disk_bytes": sum(disks) << 20,
            "archive_bytes": [os.path.getsize(p) for p in paths],
            "disks_mib": list(disks)}


def walk_files(top):
    """(relative path, size) of every regular file below top, on its file system."""
    dev = os.stat(top).st_dev
    out = []
    for d, dirs, names in os.walk(top):
        dirs[:] = sorted(x for x in dirs if os.lstat(os.path.join(d, x)).st_dev == dev)
        for n in sorted(names):
            p = os.path.join(d, n)
            st = os.lstat(p)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append((os.path.relpath(p, top), st.st_size))
    return out


def copy_sample(src, dst, budget, cap=None, always=()):
    """Copies about `budget` bytes of src's regular files (each file taken or not by
    its name, so every folder keeps some of its files), with their folders, the
    symlinks beside them, owners, modes and times (tar). Returns the files copied."""
    files = [(p, s) for p, s in walk_files(src) if cap is None or s <= cap or p in always]
    total = sum(s for p, s in files if p not in always)
    left = budget - sum(s for p, s in files if p in always)
    share = min(1.0, max(0.0, left / total)) if total else 0.0
    picked = [p for p, s in files if p in always or keyed_fraction(p) < share]
    picked_dirs = {os.path.dirname(p) for p in picked}
    links = []
    for d, dirs, names in os.walk(src):
        rel = os.path.relpath(d, src)
        if rel in picked_dirs or (rel == "." and "" in picked_dirs):
            links += [os.path.normpath(os.path.join(rel, n)) for n in names + dirs
                      if os.path.islink(os.path.join(d, n))]
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    lst = dst + ".list"
    with open(lst, "w") as f:
        for p in sorted(picked + links):
            f.write("./" + p + "\n")
    # GNU tar makes the missing parent folders; --no-recursion copies just the list.
    sh(["sh", "-c", f"tar -C {q(src)} -cf - --no-recursion --numeric-owner -T {q(lst)} "
                    f"| tar -C {q(dst)} -xpf - --numeric-owner"])
    os.unlink(lst)
    return picked


def change_files(root, files, tag):
    """A day's change to a tree: 1% of the files edited in place (4 KiB rewritten in
    the middle, as a database or log does), and another 0.5% replaced by a new
    version (4 KiB inserted, written to a new file and renamed over, as a package
    upgrade does), 0.25% deleted, and new files (copies of others) for 0.25%.
    Returns the counts."""
    ranked = sorted(files, key=lambda p: keyed_fraction(f"{tag}/{p}"))
    n = len(ranked)
    edit = ranked[:max(1, n // 100)]
    replace = ranked[len(edit):len(edit) + max(1, n // 200)]
    delete = ranked[len(edit) + len(replace):len(edit) + len(replace) + max(1, n // 400)]
    add = ranked[-max(1, n // 400):]
    new_bytes = 0
    for p in edit:
        full = os.path.join(root, p)
        size = os.path.getsize(full)
        with open(full, "r+b") as f:
            f.seek(max(0, size // 2 - 2048))
            f.write(os.urandom(min(4096, size)))
        new_bytes += min(4096, size)
    for p in replace:
        full = os.path.join(root, p)
        data = open(full, "rb").read()
        st = os.stat(full)
        with open(full + ".new", "wb") as f:
            f.write(data[:len(data) // 2] + os.urandom(4096) + data[len(data) // 2:])
        os.chmod(full + ".new", st.st_mode & 0o7777)
        os.chown(full + ".new", st.st_uid, st.st_gid)
        os.replace(full + ".new", full)
        new_bytes += len(data) + 4096
    for p in delete:
        os.unlink(os.path.join(root, p))
    for i, p in enumerate(add):
        if p in delete:
            continue
        dst = os.path.join(root, os.path.dirname(p), f"new-{tag}-{i}-" + os.path.basename(p))
        shutil.copy2(os.path.join(root, p), dst)
        new_bytes += os.path.getsize(dst)
    return {"files": n, "edited_in_place": len(edit), "replaced": len(replace),
            "deleted": len(delete), "added": len(add), "bytes_written_approx": new_bytes}


def loop_mount(ctx, image, mnt, offset=0, ro=False):
    os.makedirs(mnt, exist_ok=True)
    opts = "loop" + (",ro" if ro else "") + (f",offset={offset}" if offset else "")
    sh(["mount", "-o", opts, image, mnt])
    ctx.bench.ACTIVE_MOUNTS[mnt] = ("loop", None)


def make_ext4_disk(ctx, image, size, src, partitioned):
    """A disk image of `size` bytes holding an ext4 file system made from src: with a
    GPT and the file system as partition 1 from 1 MiB, or the file system alone."""
    fs = image + ".fs" if partitioned else image
    fs_size = size - (2 << 20) if partitioned else size
    for p in (image, fs):
        if os.path.exists(p):
            os.unlink(p)
    # Inodes for every entry and room for a day's new files: /usr/share's many small
    # files exceed the default ratio on a small disk.
    entries = sum(1 + len(dirs) + len(names) for _, dirs, names in os.walk(src))
    sh(["mkfs.ext4", "-q", "-F", "-N", str(entries * 3 // 2 + 1024), "-d", src, fs,
        f"{fs_size // 1024}k"])
    if partitioned:
        with open(image, "wb") as f:
            f.truncate(size)
        sh(["sfdisk", "-q", image], input=b"label: gpt\nstart=2048, type=linux\n")
        sh(["dd", f"if={fs}", f"of={image}", "bs=1M", "seek=1", "conv=notrunc,sparse",
            "status=none"])
        os.unlink(fs)


def prepare_real_vm(ctx):
    """Two disks of this machine's files: disk 0 with a GPT and an ext4 partition of a
    sample of /usr/lib (with one large file, for the copy through the mount), disk 1 an
    ext4 file system of a sample of /usr/share. Day 2: the same images after a day's
    change to 1% of their files (loop-mounted read-write)."""
    d = os.path.join(ctx.data, "vm-real")
    disks = ctx.sizes["real_disks_mib"]
    want = {"version": DATA_VERSION, "disks": disks, "fill": FILL,
            "make_vma": hashlib.sha256(open(os.path.join(ctx.bench.BENCH, "make_vma"), "rb")
                                       .read()).hexdigest()}
    stamp = os.path.join(d, "stamp")
    paths = [os.path.join(d, archive_name("vm-real", day)) for day in (1, 2)]
    if stamp_ok(stamp, want):
        info = json.load(open(stamp + ".info"))
    else:
        t = time.monotonic()
        ctx.log(f"making the real-data VM's disks ({' + '.join(map(str, disks))} MiB, ext4 "
                "of /usr/lib and /usr/share) and archives")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        budget0 = int((disks[0] << 20) * FILL)
        # The largest file that leaves room for the rest: what the copy through the
        # mount reads.
        big = max((s, p) for p, s in walk_files("/usr/lib") if s <= budget0 // 5)
        srcs = [os.path.join(d, "src0"), os.path.join(d, "src1")]
        files0 = copy_sample("/usr/lib", srcs[0], budget0, always=(big[1],))
        files1 = copy_sample("/usr/share", srcs[1], int((disks[1] << 20) * FILL),
                             cap=SOURCE_FILE_CAP)
        images = [os.path.join(d, f"disk{i}.img") for i in (0, 1)]
        make_ext4_disk(ctx, images[0], disks[0] << 20, srcs[0], partitioned=True)
        make_ext4_disk(ctx, images[1], disks[1] << 20, srcs[1], partitioned=False)
        for s in srcs:
            ctx.bench.remove_tree(s)
        make_vma(ctx, paths[0], [a for img in images for a in ("--image", img)])
        # Day 2: a day of use inside the guest, the big file left alone.
        mnt = os.path.join(ctx.bench.WORK, "mnt-pve-guest")
        changes = []
        for i, (img, files) in enumerate(zip(images, (files0, files1))):
            loop_mount(ctx, img, mnt, offset=(1 << 20) if i == 0 else 0)
            try:
                changes.append(change_files(mnt, [f for f in files if f != big[1]], f"day2-{i}"))
            finally:
                ctx.bench.unmount(mnt)
        make_vma(ctx, paths[1], [a for img in images for a in ("--image", img)] +
                 ["--day", "2"])
        for img in images:
            os.unlink(img)
        info = {"big_file": big[1], "big_file_bytes": big[0],
                "files": [len(files0), len(files1)],
                "file_bytes": budget0, "change": changes}
        json.dump(info, open(stamp + ".info", "w"))
        open(stamp, "w").write(json.dumps(want))
        ctx.log(f"real-data VM archives in {time.monotonic() - t:.0f} s")
    return dict(info, archives=paths, disk_bytes=sum(disks) << 20,
                archive_bytes=[os.path.getsize(p) for p in paths], disks_mib=list(disks))


def vzdump_tar(ctx, conf_dir, root, out):
    """GNU tar with the flags pve-container's vzdump uses (src/PVE/VZDump/LXC.pm; as
    tests/testing/archive_fixtures.cc MakeVzdumpTar), compressed with zstd."""
    sh(["sh", "-c", 'tar "$@" | zstd -q -T0 > "$0"', out, "cpf", "-", "--totals",
        "--one-file-system", "-p", "--sparse", "--numeric-owner", "--acls", "--xattrs",
        "--xattrs-include=user.*", "--xattrs-include=security.capability",
        "--warning=no-file-ignored", "--warning=no-xattr-write", "--directory=" + conf_dir,
        "./etc/vzdump/pct.conf", "--directory=" + root, "--no-anchored",
        "--exclude=lost+found", "--anchored", "--exclude=./tmp/?*", "--exclude=./var/tmp/?*",
        "--exclude=./var/run/?*.pid", "./"], stderr=subprocess.DEVNULL)


def prepare_container(ctx):
    d = os.path.join(ctx.data, "ct")
    budget = ctx.sizes["ct_bytes"]
    want = {"version": DATA_VERSION, "bytes": budget, "cap": SOURCE_FILE_CAP}
    stamp = os.path.join(d, "stamp")
    paths = [os.path.join(d, archive_name("ct", day)) for day in (1, 2)]
    if stamp_ok(stamp, want):
        info = json.load(open(stamp + ".info"))
    else:
        t = time.monotonic()
        ctx.log(f"making the container's archives ({budget / 1e6:.0f} MB of /usr)")
        shutil.rmtree(d, ignore_errors=True)
        root = os.path.join(d, "root")
        conf = os.path.join(d, "conf")
        os.makedirs(os.path.join(conf, "etc", "vzdump"))
        with open(os.path.join(conf, "etc", "vzdump", "pct.conf"), "w") as f:
            f.write("arch: amd64\nhostname: bench\nmemory: 512\nostype: debian\n"
                    "rootfs: local-lvm:vm-200-disk-0,size=4G\n")
        files = copy_sample("/usr", os.path.join(root, "usr"), budget, cap=SOURCE_FILE_CAP)
        files = ["usr/" + p for p in files]
        nbytes = sum(os.path.getsize(os.path.join(root, p)) for p in files)
        vzdump_tar(ctx, conf, root, paths[0])
        change = change_files(root, files, "day2")
        vzdump_tar(ctx, conf, root, paths[1])
        ctx.bench.remove_tree(root)
        info = {"files": len(files), "file_bytes": nbytes, "change": change}
        json.dump(info, open(stamp + ".info", "w"))
        open(stamp, "w").write(json.dumps(want))
        ctx.log(f"container archives in {time.monotonic() - t:.0f} s")
    return dict(info, archives=paths, archive_bytes=[os.path.getsize(p) for p in paths])


# ---------------------------------------------------------------------------------------
# Measuring


def stdin_name(case):
    return f"vzdump-{'lxc' if case == 'ct' else 'qemu'}-{VMIDS[case]}." + \
        ("tar" if case == "ct" else "vma")


def import_cmd(tool, case, archive, day):
    """What each tool runs to store one archive: coffer imports it; restic reads the
    decompressed stream on standard input; borg too for a VM, and its import-tar (which
    runs zstd -d itself) for a container."""
    name = stdin_name(case)
    if tool.name == "coffer":
        return [tool.coffer, "import", archive, "--json"]
    if tool.name == "restic":
        return ["bash", "-o", "pipefail", "-c",
                f"zstd -dc {q(archive)} | restic backup --stdin --stdin-filename {q(name)} "
                "--host pve --compression auto"]
    if case == "ct":
        return ["borg", "import-tar", "--compression", "zstd,3", f"::day{day}", archive]
    return ["bash", "-o", "pipefail", "-c",
            f"zstd -dc {q(archive)} | borg create --compression zstd,3 --stdin-name {q(name)} "
            f"::day{day} -"]


def new_tool(ctx, name, case):
    return ctx.bench.Tool(name, ctx.runner, ctx.coffer, None, None,
                          home=os.path.join(ctx.bench.WORK, f"pve-{name}-{case}"))


def measure_imports(ctx, case, data):
    """Per tool: init, the day 1 archive, the day 2 archive; times and repository sizes."""
    out = {}
    tools = {}
    for name in ctx.tools:
        tool = new_tool(ctx, name, case)
        tools[name] = tool
        tool.init()
        res = {}
        before = ctx.bench.du(tool.repo)
        for day, archive in enumerate(data["archives"], 1):
            s, rss, cpu = tool.run(f"{case}-day{day}", import_cmd(tool, case, archive, day))
            if name == "coffer":
                ctx.bench.stop_coffer_serve(tool.repo)  # its database settled on disk
            after = ctx.bench.du(tool.repo)
            r = {"time_s": s, "rss_kib": rss, "cpu_s": cpu, "repo_bytes": after,
                 "growth_bytes": after - before}
            if name == "coffer":
                doc = json.loads(open(ctx.runner.last_out).read().splitlines()[-1])
                r.update(bytes_read=doc.get("bytes_read"), bytes_added=doc.get("bytes_added"))
            res[f"day{day}"] = r
            before = after
        out[name] = res
    ctx.note_load()
    return out, tools


def median_read(ctx, tool, label, path, reads):
    """MB/s of `dd bs=1M` of path to /dev/null, the median of `reads` reads, each after
    dropping the page cache and reading the tool's repository back into it (the mount's
    own speed, not the disk's, as bench/run's mount "first read")."""
    size = os.path.getsize(path)
    rates = []
    for i in range(reads):
        ctx.bench.drop_caches(3)
        ctx.bench.warm_repository(tool)
        s, _ = ctx.bench.timed(ctx.runner, f"{label}-{i + 1}",
                               ["dd", f"if={path}", "of=/dev/null", "bs=1M", "status=none"])
        rates.append(size / 1e6 / s)
    ctx.log(f"{label}: {statistics.median(rates):.0f} MB/s (median of "
            f"{', '.join(f'{x:.0f}' for x in rates)}; {size / 1e6:.0f} MB)")
    return {"mbs": statistics.median(rates), "each_mbs": rates, "bytes": size}


def measure_mount(ctx, tools, data, reads):
    """vm-real's day 2 snapshot through each mount: coffer's drive-scsi0.img, restic's
    stdin file (the VMA stream); then, in coffer's mount, partition 1 of the image
    loop-mounted and its large file copied out."""
    bench = ctx.bench
    out = {}
    if "coffer" in tools:
        tool = tools["coffer"]
        mnt = os.path.join(bench.WORK, "mnt-coffer")
        guest = os.path.join(bench.WORK, "mnt-pve-guest")
        os.makedirs(mnt, exist_ok=True)
        bench.stop_coffer_serve(tool.repo)
        bench.ACTIVE_MOUNTS[mnt] = ("coffer", None)
        bench.timed(ctx.runner, "coffer-mount", [tool.coffer, "mount", mnt], env=tool.env)
        try:
            img = os.path.join(mnt, f"vm/{VMIDS['vm-real']}/latest/drive-scsi0.img")
            out["coffer"] = median_read(ctx, tool, "coffer-mount-read", img, reads)
            part = img + ".partitions/1"
            loop_mount(ctx, part, guest, ro=True)
            try:
                src = os.path.join(guest, data["big_file"])
                dst = os.path.join(bench.WORK, "pve-cp-out")
                bench.drop_caches(3)
                bench.warm_repository(tool)
                s, _ = bench.timed(ctx.runner, "coffer-mount-loop-cp", ["cp", src, dst])
                os.unlink(dst)
                size = os.path.getsize(src)
                out["coffer_cp"] = {"mbs": size / 1e6 / s, "bytes": size, "time_s": s,
                                    "file": data["big_file"]}
                ctx.log(f"coffer-mount-loop-cp: {size / 1e6:.0f} MB in {s:.2f} s, "
                        f"{size / 1e6 / s:.0f} MB/s")
            finally:
                bench.unmount(guest)
        finally:
            bench.unmount(mnt)
            bench.stop_coffer_serve(tool.repo)
    if "restic" in tools:
        tool = tools["restic"]
        mnt = os.path.join(bench.WORK, "mnt-restic")
        os.makedirs(mnt, exist_ok=True)
        err = open(os.path.join(ctx.runner.logdir, "restic-pve-mount.err"), "wb")
        proc = subprocess.Popen(["restic", "mount", mnt], env=tool.env, stdout=err,
                                stderr=err, stdin=subprocess.DEVNULL)
        bench.ACTIVE_MOUNTS[mnt] = ("restic", proc)
        try:
            f = os.path.join(mnt, "snapshots", "latest", stdin_name("vm-real"))
            t = time.monotonic()
            while not os.path.exists(f):
                if proc.poll() is not None or time.monotonic() - t > 300:
                    bench.die(f"restic mount did not show {f}")
                time.sleep(0.05)
            out["restic"] = median_read(ctx, tool, "restic-mount-read", f, reads)
        finally:
            bench.unmount(mnt)
    ctx.note_load()
    return out


def measure_export(ctx, tool, case):
    """coffer export of the case's latest snapshot to a folder (vzdump's name, zstd)."""
    dst = os.path.join(ctx.bench.WORK, "pve-export")
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    group = f"{'ct' if case == 'ct' else 'vm'}/{VMIDS[case]}"
    s, rss, cpu = tool.run(f"{case}-export", [tool.coffer, "export", group + "/latest",
                                              "-o", dst + "/"])
    names = [n for n in os.listdir(dst) if n.endswith(".zst")]
    size = sum(os.path.getsize(os.path.join(dst, n)) for n in names)
    shutil.rmtree(dst)
    ctx.bench.stop_coffer_serve(tool.repo)
    return {"time_s": s, "rss_kib": rss, "cpu_s": cpu, "bytes": size, "names": names}


# ---------------------------------------------------------------------------------------
# Targets and report


def ratio_faster(other, mine):
    return None if not other or not mine else other / mine


def evaluate(res, data):
    T = []

    def add(name, ok, actual):
        T.append({"target": name, "status": PASSES[ok], "actual": actual})

    def get(case, tool, day, key):
        return res.get(case, {}).get(tool, {}).get(f"day{day}", {}).get(key)

    for case, title in (("vm", "VM"), ("vm-real", "VM, real disks")):
        if case not in res:
            continue
        c1, r1 = get(case, "coffer", 1, "time_s"), get(case, "restic", 1, "time_s")
        x = ratio_faster(r1, c1)
        add(f"{title}: coffer's first import >= 1.5x faster than restic's --stdin",
            None if x is None else x >= 1.5,
            "—" if x is None else f"{c1:.2f} s vs {r1:.2f} s: {x:.2f}x")
        g = get(case, "coffer", 2, "growth_bytes")
        disks = data[case]["disk_bytes"]
        rg = get(case, "restic", 2, "growth_bytes")
        add(f"{title}: repository growth of the second import <= 2% of the disks",
            None if g is None else g <= 0.02 * disks,
            "—" if g is None else f"{g / 1e6:.1f} MB = {100 * g / disks:.2f}% of "
            f"{disks / 2**20:.0f} MiB" + ("" if rg is None else
                                          f" (restic: {rg / 1e6:.1f} MB = {100 * rg / disks:.1f}%)"))
        c2 = get(case, "coffer", 2, "time_s")
        x = ratio_faster(c1, c2)
        add(f"{title}: coffer's second import >= 2x faster than its first",
            None if x is None else x >= 2,
            "—" if x is None else f"{c2:.2f} s vs {c1:.2f} s: {x:.2f}x")
    if "ct" in res:
        for day in (1, 2):
            c, b = get("ct", "coffer", day, "time_s"), get("ct", "borg", day, "time_s")
            x = ratio_faster(b, c)
            add(f"container, day {day}: coffer import >= 2x faster than borg import-tar",
                None if x is None else x >= 2,
                "—" if x is None else f"{c:.2f} s vs {b:.2f} s: {x:.2f}x")
        c, b = get("ct", "coffer", 2, "repo_bytes"), get("ct", "borg", 2, "repo_bytes")
        add("container: repository after both imports no larger than borg's",
            None if c is None or b is None else c <= b,
            "—" if c is None or b is None else f"{c / 1e6:.1f} MB vs {b / 1e6:.1f} MB: "
            f"{c / b:.2f}x")
    m = res.get("mount", {})
    c, r = m.get("coffer", {}).get("mbs"), m.get("restic", {}).get("mbs")
    x = None if c is None or r is None else c / r
    add("mount: sequential read of a disk image >= 3x restic's (its --stdin file)",
        None if x is None else x >= 3,
        "—" if x is None else f"{c:.0f} MB/s vs {r:.0f} MB/s: {x:.2f}x")
    cp = m.get("coffer_cp", {}).get("mbs")
    add("mount: cp of a large file from the image's ext4 partition, loop-mounted, "
        ">= 100 MB/s", None if cp is None else cp >= 100,
        "—" if cp is None else f"{cp:.0f} MB/s ({m['coffer_cp']['bytes'] / 1e6:.0f} MB)")
    return T


def fmt_s(x):
    return "—" if x is None else f"{x:.2f} s"


def fmt_mb(x):
    return "—" if x is None else f"{x / 1e6:.1f} MB"


def fmt_mib(x):
    return "—" if x is None else f"{x / 1024:.0f} MiB"


def fmt_faster(x):
    return "—" if x is None else (f"{x:.2f}x faster" if x >= 1 else f"{1 / x:.2f}x slower")


def case_table(tools, r, data):
    cmp = [t for t in ("restic", "borg") if t in tools and "coffer" in tools]
    L = ["| Figure | " + " | ".join(tools) + "".join(f" | coffer vs {t}" for t in cmp) + " |",
         "|" + "---|" * (1 + len(tools) + len(cmp))]
    rows = []
    for day in (1, 2):
        rows += [(f"day {day}: time", day, "time_s", fmt_s, "time"),
                 (f"day {day}: CPU (user+sys)", day, "cpu_s", fmt_s, "time"),
                 (f"day {day}: peak RSS", day, "rss_kib", fmt_mib, "size"),
                 (f"day {day}: throughput (guest MB / time)", day, "_mbs", None, "rate"),
                 (f"day {day}: repository growth", day, "growth_bytes", fmt_mb, "size")]
    rows.append(("repository after both", 2, "repo_bytes", fmt_mb, "size"))
    for label, day, key, f, kind in rows:
        vals = {}
        for t in tools:
            d = r[t][f"day{day}"]
            vals[t] = data["size_bytes"] / 1e6 / d["time_s"] if key == "_mbs" \
                else d.get(key)
        cells = [label] + [(f"{vals[t]:.0f} MB/s" if key == "_mbs" else f(vals[t]))
                           for t in tools]
        for o in cmp:
            a, b = vals["coffer"], vals[o]
            if kind == "time":
                cells.append(fmt_faster(ratio_faster(b, a)))
            else:
                cells.append("—" if not a or not b else f"{a / b:.2f}x")
        L.append("| " + " | ".join(cells) + " |")
    if "coffer" in tools and "growth_bytes" in r["coffer"]["day2"]:
        g = r["coffer"]["day2"]["growth_bytes"]
        L.append("")
        L.append("Day 2 growth as a share of the disks' or files' size: " + ", ".join(
            f"{t} {100 * r[t]['day2']['growth_bytes'] / data['size_bytes']:.2f}%"
            for t in tools) + f"; coffer's own count of bytes added: "
            f"{fmt_mb(r['coffer']['day2'].get('bytes_added'))} (growth {fmt_mb(g)}).")
    return L


def report(meta, data, res, targets):
    tools = meta["tools"]
    L = [f"# Coffer benchmark: Proxmox VE guests — {meta['date']}", ""]
    L.append(f"- Command: `{meta['command']}`")
    L.append(f"- Machine: {meta['cores']} cores ({meta['cpu']}), {meta['memory_gib']:.1f} GiB "
             f"memory, {meta['kernel']}")
    la, le = meta["load_average"], meta["load_average_end"]
    L.append(f"- Load average (1, 5, 15 min) at the start: {la[0]:.1f}, {la[1]:.1f}, "
             f"{la[2]:.1f}; at the end: {le[0]:.1f}, {le[1]:.1f}, {le[2]:.1f}; highest 1-min "
             f"figure seen between cases: {meta['load_average_max_1min']:.1f} (the "
             f"{meta['cores']} cores were shared with other work)")
    L.append("- Page cache: warm (not dropped; `sync` before every measured command); one "
             f"sample of each import; mount reads the median of {MOUNT_READS}; total "
             f"{meta['total_seconds'] / 60:.1f} min")
    L.append("- Versions: " + "; ".join(f"{t}: {meta['versions'][t]}" for t in tools))
    L.append("- Settings: coffer repokey (Argon2id 64M/3), zstd 3; restic repository "
             "version 2, --compression auto; borg repokey-blake2, --compression zstd,3")
    L.append("")
    L.append("coffer runs `coffer import ARCHIVE`; restic `zstd -dc ARCHIVE | restic backup "
             "--stdin`; borg the same into `borg create --stdin-name NAME -` for a VM and "
             "`borg import-tar ::NAME ARCHIVE` (which runs `zstd -d` itself) for a container. "
             "Times and CPU include the decompression (and the pipe's zstd), not coffer "
             "serve's CPU (a separate process, as in bench/run's backups). Growth is `du -sb` "
             "of the repository before and after (coffer's after its server has exited).")
    L.append("")
    titles = {"vm": "VM, generated disks", "vm-real": "VM, real disks (ext4 of this "
              "machine's files)", "ct": "Container (a copy of /usr)"}
    for case in ("vm", "vm-real", "ct"):
        if case not in res:
            continue
        d = data[case]
        L.append(f"## {titles[case]}")
        L.append("")
        if case == "vm":
            L.append(f"Disks of {' + '.join(map(str, d['disks_mib']))} MiB from bench/make_vma; "
                     f"day 2: {CHANGED_PERCENT:g}% of the clusters changed, a new uuid and "
                     f"cluster order. Archives (.vma.zst): "
                     + ", ".join(fmt_mb(x) for x in d["archive_bytes"]) + ".")
        elif case == "vm-real":
            ch = d["change"]
            L.append(f"Disk 0 ({d['disks_mib'][0]} MiB): GPT, partition 1 ext4 made by "
                     f"`mkfs.ext4 -d` from {d['files'][0]} files of /usr/lib (including "
                     f"`{d['big_file']}`, {d['big_file_bytes'] / 1e6:.0f} MB); disk 1 "
                     f"({d['disks_mib'][1]} MiB): ext4 of {d['files'][1]} files of /usr/share; "
                     f"{FILL:.0%} full. Day 2: the images loop-mounted and changed, per disk "
                     + "; ".join(f"{c['edited_in_place']} files edited in place, "
                                 f"{c['replaced']} replaced, {c['deleted']} deleted, "
                                 f"{c['added']} added" for c in ch)
                     + ". Archives (.vma.zst): " + ", ".join(fmt_mb(x) for x in d["archive_bytes"])
                     + ".")
        else:
            ch = d["change"]
            L.append(f"{d['files']} files, {d['file_bytes'] / 1e6:.0f} MB of /usr (each file "
                     f"taken or not by its name, none over {SOURCE_FILE_CAP >> 20} MiB), "
                     "archived by GNU tar with vzdump's flags and zstd; day 2: "
                     f"{ch['edited_in_place']} files edited in place, {ch['replaced']} "
                     f"replaced, {ch['deleted']} deleted, {ch['added']} added. Archives "
                     "(.tar.zst): " + ", ".join(fmt_mb(x) for x in d["archive_bytes"]) + ".")
        L.append("")
        L += case_table([t for t in tools if t in res[case]], res[case], d)
        L.append("")
    m = res.get("mount")
    if m:
        L.append("## Mount (the real-disk VM's day 2 snapshot)")
        L.append("")
        L.append("| Figure | coffer | restic | coffer vs restic |")
        L.append("|---|---|---|---|")
        c, r = m.get("coffer", {}), m.get("restic", {})
        x = c["mbs"] / r["mbs"] if c and r else None
        L.append(f"| sequential read (`dd bs=1M`): coffer `drive-scsi0.img` "
                 f"({fmt_mb(c.get('bytes'))}), restic its --stdin VMA file "
                 f"({fmt_mb(r.get('bytes'))}) | "
                 f"{c['mbs']:.0f} MB/s | " if c else "| sequential read | — | ")
        L[-1] += (f"{r['mbs']:.0f} MB/s | " if r else "— | ") + \
            (f"{x:.2f}x |" if x else "— |")
        cp = m.get("coffer_cp")
        if cp:
            L.append(f"| `cp` of `{cp['file']}` ({fmt_mb(cp['bytes'])}) from partition 1 of "
                     f"`drive-scsi0.img`, `mount -o ro,loop` in the coffer mount | "
                     f"{cp['mbs']:.0f} MB/s ({cp['time_s']:.2f} s) | | |")
        L.append("")
        L.append(f"Each read: page cache dropped, then the tool's repository (and cache) "
                 f"read back into it, so the mount is measured rather than the disk (as "
                 f"bench/run's mount \"first read\"); the median of {MOUNT_READS} reads. The "
                 "copy: once, after the same preparation, into bench/work.")
        L.append("")
    if res.get("export"):
        L.append("## coffer export (round trip)")
        L.append("")
        L.append("| Snapshot | time | CPU | peak RSS | archive written (zstd) |")
        L.append("|---|---|---|---|---|")
        for case, e in res["export"].items():
            L.append(f"| {titles[case]}, day 2 | {fmt_s(e['time_s'])} | {fmt_s(e['cpu_s'])} | "
                     f"{fmt_mib(e['rss_kib'])} | {fmt_mb(e['bytes'])} |")
        L.append("")
    L.append("## Targets")
    L.append("")
    for t in targets:
        L.append(f"- **{t['status']}** {t['target']}: {t['actual']}")
    L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------------------------


def run(bench, args, tools, coffer):
    """`bench/run --only proxmox [--quick] [--only TOOL]...`: returns the report."""
    started = time.monotonic()
    runner = bench.Runner(cold=False)
    ctx = Ctx(bench, runner, coffer, tools, args.quick)
    os.makedirs(ctx.data, exist_ok=True)
    data = {"vm": prepare_generated_vm(ctx), "vm-real": prepare_real_vm(ctx),
            "ct": prepare_container(ctx)}
    for case in ("vm", "vm-real"):
        data[case]["size_bytes"] = data[case]["disk_bytes"]
    data["ct"]["size_bytes"] = data["ct"]["file_bytes"]
    ctx.load.append(os.getloadavg())
    started_measuring = time.monotonic()
    res = {"export": {}}
    for case in ("vm", "vm-real", "ct"):
        # The archives in the page cache, as vzdump has just written them.
        for a in data[case]["archives"]:
            sh(["cat", a], stdout=subprocess.DEVNULL)
        res[case], objs = measure_imports(ctx, case, data[case])
        if case == "vm-real":
            res["mount"] = measure_mount(ctx, objs, data[case], MOUNT_READS)
        if "coffer" in objs and case != "vm-real":
            res["export"][case] = measure_export(ctx, objs["coffer"], case)
        for t, tool in objs.items():
            if t == "coffer":
                bench.stop_coffer_serve(tool.repo)
            bench.remove_tree(tool.home)
    targets = evaluate(res, data)

    mem = next(int(x.split()[1]) for x in open("/proc/meminfo") if x.startswith("MemTotal:"))
    cpu = next((x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo")
                if x.startswith("model name")), "?")
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": shlex.join(["bench/run"] + sys.argv[1:]),
        "cores": len(os.sched_getaffinity(0)), "cpu": cpu, "memory_gib": mem / 1024 / 1024,
        "kernel": platform.platform(), "size": ctx.size, "tools": tools,
        "versions": {t: bench.tool_version(t, coffer) for t in tools},
        "total_seconds": time.monotonic() - started,
        "measuring_seconds": time.monotonic() - started_measuring,
        "load_average": [round(x, 2) for x in ctx.load[0]],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "load_average_max_1min": round(max(x[0] for x in ctx.load + [os.getloadavg()]), 2),
    }
    md = report(meta, data, res, targets)
    doc = {"meta": meta, "data": data, "results": res, "targets": targets}
    names = ("latest", "proxmox" if ctx.size == "full" else "proxmox-quick")
    for name in names:
        with open(os.path.join(bench.RESULTS, name + ".md"), "w") as f:
            f.write(md)
        with open(os.path.join(bench.RESULTS, name + ".json"), "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    for t in targets:
        print(f"{t['status']:4}  {t['target']}: {t['actual']}", file=sys.stderr)
    return md
