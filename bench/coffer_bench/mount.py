"""The mount phases: each tool's last snapshot mounted with FUSE, walked and read; their
table and targets."""

import json
import os
import shlex
import statistics
import subprocess
import time

from .settings import FIRST_READS, TOOLS, WORK
from .util import die, log
from .formats import fmt_faster, fmt_mib, fmt_ratio, fmt_s
from .measure import drop_caches, pids_with_arg, timed, vm_hwm
from .tools import coffer_serve_pid, stop_coffer_serve


MOUNT_FIGS = (  # key, label, kind: "time" (lower is better), "rate" (higher), "rss"
    ("mount_cmd_s", "mount command (until it returns)", "time"),
    ("first_ls_s", "first `ls` of the snapshot root", "time"),
    ("find_s", "`find SNAP -ls > /dev/null`", "time"),
    ("lslr_s", "`ls -lR SNAP > /dev/null`", "time"),
    ("entries", "entries below SNAP", "count"),
    ("cat_cold_mbs", "`cat` large file, cold (repository on disk)", "rate"),
    ("cat_first_mbs", "`cat` large file, first read (repository in page cache)", "rate"),
    ("cat_warm_mbs", "`cat` large file, warm (2nd read)", "rate"),
    ("rand1_iops", "random 4 KiB reads, 1 job (IOPS)", "rate"),
    ("rand4_iops", "random 4 KiB reads, 4 jobs (IOPS)", "rate"),
    ("mount_rss_kib", "mount process peak RSS (VmHWM)", "rss"),
    ("serve_rss_kib", "`coffer serve` peak RSS (VmHWM)", "rss"),
)

ACTIVE_MOUNTS = {}  # mountpoint -> (tool name, restic's Popen or None)


def warm_repository(tool):
    """Reads every file of the tool's repository and cache into the page cache, so that
    a read through the mount measures the tool rather than the disk."""
    for top in (tool.repo, tool.cache):
        for d, _, names in os.walk(top):
            for n in names:
                try:
                    with open(os.path.join(d, n), "rb") as f:
                        while f.read(1 << 20):
                            pass
                except OSError:
                    pass


def unmount(mnt, quiet=False):
    tool, proc = ACTIVE_MOUNTS.pop(mnt, (None, None))
    cmds = {"coffer": [[COFFER_BIN[0], "umount", mnt]], "borg": [["borg", "umount", mnt]],
            "restic": [["fusermount3", "-u", mnt]], "loop": [["umount", mnt]]}.get(tool, [])
    cmds += [["fusermount3", "-u", mnt], ["fusermount3", "-uz", mnt]]
    t = time.monotonic()
    for cmd in cmds:
        if not os.path.ismount(mnt):
            break
        deadline = time.monotonic() + 5
        while True:  # busy right after fio/find exit: retry briefly
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode == 0 or not os.path.ismount(mnt) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    if proc is not None:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=10)
    if os.path.ismount(mnt) and not quiet:
        log(f"WARNING: could not unmount {mnt}")
    elif time.monotonic() - t > 1 and not quiet:
        log(f"unmounting {mnt} took {time.monotonic() - t:.1f} s")


def unmount_all():
    for mnt in reversed(list(ACTIVE_MOUNTS)):  # a loop mount may sit inside a FUSE mount
        log(f"unmounting {mnt}")
        unmount(mnt, quiet=True)


COFFER_BIN = [None]


def largest_file(root):
    best = (0, None)
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                best = max(best, (os.path.getsize(p), os.path.relpath(p, root)))
    return best[1]


def measure_source_walks(runner, corpus_path):
    """`find CORPUS -ls` and `ls -lR CORPUS` of the corpus itself (the bench's copy, on
    the local file system), each after the kernel's dentries and inodes are dropped, as
    before the walks in the mounts: what those walks are put against."""
    q = shlex.quote(corpus_path)
    out = {}
    drop_caches(2)
    out["find_s"], _ = timed(runner, "source-find", f"find {q} -ls > /dev/null", shell=True)
    drop_caches(2)
    out["lslr_s"], _ = timed(runner, "source-lslr", f"ls -lR {q} > /dev/null", shell=True)
    _, cnt = timed(runner, "source-count", f"find {q} | wc -l", shell=True)
    out["entries"] = int(open(cnt).read().split()[0])
    log(f"source copy: find -ls {out['find_s']:.2f} s, ls -lR {out['lslr_s']:.2f} s, "
        f"{out['entries']} entries")
    return out


def measure_mount(tool, runner, corpus_path, big_rel, fio_runtime):
    """The mount phases of one tool on its last snapshot; returns a dict of MOUNT_FIGS."""
    name = tool.name
    mnt = os.path.join(WORK, f"mnt-{name}")
    if os.path.ismount(mnt):
        subprocess.run(["fusermount3", "-uz", mnt])
    os.makedirs(mnt, exist_ok=True)
    res = {k: None for k, _, _ in MOUNT_FIGS}
    env = tool.env
    if name == "coffer":
        stop_coffer_serve(tool.repo)
    os.sync()
    if name == "restic":
        root = os.path.join(mnt, "snapshots", "latest")
        runner.seq += 1
        base = os.path.join(runner.logdir, f"{runner.seq:03d}-restic-mount")
        out, err = open(base + ".out", "wb"), open(base + ".err", "wb")
        t0 = time.monotonic()
        proc = subprocess.Popen(["restic", "mount", mnt], env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        ACTIVE_MOUNTS[mnt] = (name, proc)
        mount_pid = proc.pid
    else:
        cmd = [tool.coffer, "mount", mnt] if name == "coffer" else \
            ["borg", "mount", f"::bench-{tool.nbackup}", mnt]
        ACTIVE_MOUNTS[mnt] = (name, None)
        res["mount_cmd_s"], _ = timed(runner, f"{name}-mount", cmd, env=env)
        t0 = time.monotonic()
        root = os.path.join(mnt, "host", "bench", "latest") if name == "coffer" else mnt
        pids = pids_with_arg(mnt, "mount")
        mount_pid = pids[0] if pids else None
    # 1. first successful ls of the snapshot root
    while True:
        r = subprocess.run(["ls", root + "/"], capture_output=True)
        if r.returncode == 0 and r.stdout.strip():
            res["first_ls_s"] = time.monotonic() - t0
            break
        if name == "restic" and proc.poll() is not None:
            die(f"restic mount exited with {proc.returncode}; see {base}.err")
        if time.monotonic() - t0 > 300:
            die(f"{name}: {root} did not appear within 300 s")
        time.sleep(0.01)
    log(f"{name}-mount: first ls after {res['first_ls_s']:.2f} s"
        + (f" (mount command {res['mount_cmd_s']:.2f} s)" if res["mount_cmd_s"] else ""))
    snap = os.path.join(root, corpus_path.lstrip("/"))
    q = shlex.quote(snap)
    # 2. walking the tree; the kernel's dentries and inodes are dropped first, so both
    # walks go to the FUSE process (the page cache of the repositories stays)
    drop_caches(2)
    res["find_s"], _ = timed(runner, f"{name}-mount-find", f"find {q} -ls > /dev/null", shell=True)
    drop_caches(2)
    res["lslr_s"], _ = timed(runner, f"{name}-mount-lslr", f"ls -lR {q} > /dev/null", shell=True)
    _, cnt = timed(runner, f"{name}-mount-count", f"find {q} | wc -l", shell=True)
    res["entries"] = int(open(cnt).read().split()[0])
    log(f"{name}-mount: find {res['find_s']:.2f} s, ls -lR {res['lslr_s']:.2f} s, "
        f"{res['entries']} entries")
    # 3. sequential read of the large file, cold and warm
    big = os.path.join(snap, big_rel)
    size = os.path.getsize(big)
    if not drop_caches(3):
        log("cannot drop the page cache (not root?): the cold read is not cold")
    s, _ = timed(runner, f"{name}-mount-cat-cold", f"cat {shlex.quote(big)} > /dev/null",
                 shell=True)
    res["cat_cold_mbs"] = size / 1e6 / s
    # The first read of the file through the mount again, its pages dropped, with the
    # repository in the page cache: what the mount itself costs. The median of three
    # such reads: one read of a few hundred MB varies by 15% or more from one to the
    # next on a shared VM, for every tool.
    firsts = []
    for attempt in range(FIRST_READS):
        drop_caches(3)
        warm_repository(tool)
        s, _ = timed(runner, f"{name}-mount-cat-first-{attempt + 1}",
                     f"cat {shlex.quote(big)} > /dev/null", shell=True)
        firsts.append(size / 1e6 / s)
    res["cat_first_mbs"] = statistics.median(firsts)
    res["cat_first_each_mbs"] = [round(x) for x in firsts]
    os.sync()
    s, _ = timed(runner, f"{name}-mount-cat-warm", f"cat {shlex.quote(big)} > /dev/null",
                 shell=True)
    res["cat_warm_mbs"] = size / 1e6 / s
    log(f"{name}-mount: cat {size / 1e6:.0f} MB cold {res['cat_cold_mbs']:.0f} MB/s, "
        f"first read {res['cat_first_mbs']:.0f} MB/s (median of "
        f"{', '.join(str(x) for x in res['cat_first_each_mbs'])}), "
        f"warm {res['cat_warm_mbs']:.0f} MB/s")
    # 4. random 4 KiB reads
    for jobs in (1, 4):
        drop_caches(3)
        warm_repository(tool)  # random reads through the mount, not of the disk
        _, out = timed(runner, f"{name}-mount-fio{jobs}", [
            "fio", "--name=randread", f"--filename={big}", "--readonly", "--rw=randread",
            # --invalidate=0: the page cache was dropped just before; fio's own
            # invalidation (fadvise DONTNEED at every (re)open of the file during a
            # time-based run) would drop what a mount stored in it mid-run.
            "--bs=4k", f"--runtime={fio_runtime}", "--time_based", "--ioengine=psync",
            "--invalidate=0",
            f"--numjobs={jobs}", "--direct=0", "--group_reporting", "--output-format=json"])
        txt = open(out).read()
        doc = json.loads(txt[txt.index("{"):])
        res[f"rand{jobs}_iops"] = sum(j["read"]["iops"] for j in doc["jobs"])
        log(f"{name}-mount: fio randread 4k, {jobs} job(s): {res[f'rand{jobs}_iops']:.0f} IOPS")
    # 5. peak RSS, just before unmounting
    res["mount_rss_kib"] = vm_hwm(mount_pid) if mount_pid else None
    if name == "coffer":
        spid = coffer_serve_pid(tool.repo)
        res["serve_rss_kib"] = vm_hwm(spid) if spid else None
    unmount(mnt)
    if name == "coffer":
        stop_coffer_serve(tool.repo)
    log(f"{name}-mount: peak RSS {fmt_mib(res['mount_rss_kib'])}"
        + (f", coffer serve {fmt_mib(res['serve_rss_kib'])}" if name == "coffer" else ""))
    res["file"] = big_rel
    res["file_bytes"] = size
    return res


def fmt_mount(key, kind, v):
    if v is None:
        return "—"
    if kind == "time":
        return fmt_s(v)
    if kind == "rss":
        return fmt_mib(v)
    if kind == "count":
        return f"{v:.0f}"
    return f"{v:.0f} MB/s" if key.endswith("mbs") else f"{v:.0f}"


def mount_ratio(kind, mine, other):
    if mine is None or other is None or not other or not mine:
        return None
    if kind == "time":
        return other / mine  # times faster
    return mine / other  # rate: times more; rss: coffer's / other's


def fmt_mount_ratio(kind, x):
    if x is None:
        return "—"
    if kind == "time":
        return fmt_faster(x)
    if kind == "rate":
        return f"{x:.2f}x" + (" more" if x >= 1 else "")
    return fmt_ratio(x)


def mount_report(mmed, meta_file, cold_ok, fio_s, samples, source=None, level=2):
    tools = [t for t in TOOLS if t in mmed]
    cmp = [t for t in ("restic", "borg") if t in tools and "coffer" in tools]
    L = ["#" * level + " Mount", ""]
    L.append(f"Each tool's last snapshot mounted with FUSE (`coffer mount`, `restic mount`, "
             f"`borg mount`), one after another"
             + (", once per tool" if samples == 1 else f", {samples} times per tool (medians)")
             + f"; large file: `{meta_file[0]}` ({meta_file[1] / 1e6:.0f} MB)."
             + ("" if cold_ok else " The page cache could not be dropped: cold is not cold."))
    L.append("")
    hdr = ["Figure"] + tools + [f"coffer vs {t}" for t in cmp]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "---|" * len(hdr))
    for key, label, kind in MOUNT_FIGS:
        if all(mmed[t].get(key) is None for t in tools):
            continue
        cells = [label] + [fmt_mount(key, kind, mmed[t].get(key)) for t in tools]
        for o in cmp:
            cells.append("" if kind == "count" else fmt_mount_ratio(
                kind, mount_ratio(kind, mmed["coffer"].get(key), mmed[o].get(key))))
        L.append("| " + " | ".join(cells) + " |")
    if source and source.get("find_s"):
        for key, label in (("find_s", "`find SNAP -ls` / `find -ls` of the source copy"),
                           ("lslr_s", "`ls -lR SNAP` / `find -ls` of the source copy")):
            vals = [mmed[t].get(key) for t in tools]
            if all(v is None for v in vals):
                continue
            L.append("| " + " | ".join([label] + [
                "—" if v is None else f"{v / source['find_s']:.1f}x" for v in vals]
                + ["" for _ in cmp]) + " |")
    L.append("")
    if source and source.get("find_s"):
        L.append(f"The source copy (the corpus the tools backed up, on the local file "
                 f"system), walked the same way, its dentries and inodes dropped first: "
                 f"`find CORPUS -ls > /dev/null` {fmt_s(source['find_s'])}, "
                 f"`ls -lR CORPUS > /dev/null` {fmt_s(source['lslr_s'])}, "
                 f"{source['entries']:.0f} entries.")
        c = mmed.get("coffer", {}).get("lslr_s")
        if c:
            others = [f"{o} {mmed[o]['lslr_s'] / source['find_s']:.1f}x" for o in cmp
                      if mmed[o].get("lslr_s")]
            L.append(f"`ls -lR` in the mount: coffer {fmt_s(c)}"
                     + "".join(f", {fmt_faster(mount_ratio('time', c, mmed[o]['lslr_s']))} "
                               f"than {o}" for o in cmp if mmed[o].get("lslr_s"))
                     + f"; {c / source['find_s']:.1f}x the time of `find -ls` on the source "
                     f"copy" + (f" ({', '.join(others)})" if others else "") + ".")
        L.append("")
    L.append("The first `ls` is timed from the mount command's return (restic, which stays "
             "in the foreground: from its start). The kernel's dentries and inodes are "
             "dropped before each walk; the whole page cache before the cold read, and before "
             "the first read and each fio run, after which the tool's repository is read "
             "back into it (`fio --rw=randread --bs=4k --ioengine=psync --direct=0 "
             f"--invalidate=0 --time_based --runtime={fio_s}`).")
    L.append("")
    return "\n".join(L)


def evaluate_mount_targets(mmed, tree=True):
    """The mount targets; with tree False (a corpus of one file) the `ls -lR` one is
    n/a: a walk of three entries says nothing."""
    out = []
    c, r = mmed.get("coffer", {}), mmed.get("restic", {})

    def add(target, ok, actual, value=None, need=None):
        out.append({"target": target, "status": "n/a" if ok is None else
                    ("met" if ok else "not met"), "actual": actual, "value": value,
                    "need": need})

    # The sequential target is the mount's own speed: the first read of the file with
    # the repository in the page cache (a cold disk caps every tool alike).
    x = mount_ratio("rate", c.get("cat_first_mbs"), r.get("cat_first_mbs"))
    cc = c.get("cat_first_mbs")
    add("mount: sequential first read >= 3x restic and >= 750 MB/s",
        None if x is None else (x >= 3 and cc >= 750),
        "—" if x is None else f"{cc:.0f} MB/s, {x:.2f}x restic's {r['cat_first_mbs']:.0f} MB/s",
        x, 3.0)
    w = c.get("cat_warm_mbs")
    y = None if w is None or not cc else w / cc
    add("mount: warm read served from the page cache (>= 2x the first read)",
        None if y is None else y >= 2,
        "—" if y is None else f"{w:.0f} MB/s warm, {y:.2f}x the first read", y, 2.0)
    x1 = mount_ratio("rate", c.get("rand1_iops"), r.get("rand1_iops"))
    add("mount: random 4 KiB reads, 1 job, >= 5x restic's IOPS",
        None if x1 is None else x1 >= 5,
        "—" if x1 is None else f"{c['rand1_iops']:.0f} vs {r['rand1_iops']:.0f} IOPS "
        f"({x1:.2f}x)", x1, 5.0)
    x4 = mount_ratio("rate", c.get("rand4_iops"), r.get("rand4_iops"))
    ok = None if x4 is None else (x4 >= 5 and c["rand4_iops"] > c["rand1_iops"])
    add("mount: random 4 KiB reads, 4 jobs, >= 5x restic's IOPS and more than with 1 job",
        ok, "—" if x4 is None else f"{c['rand4_iops']:.0f} vs {r['rand4_iops']:.0f} IOPS "
        f"({x4:.2f}x); coffer 4 jobs / 1 job: {c['rand4_iops'] / c['rand1_iops']:.2f}x",
        x4, 5.0)
    x = mount_ratio("time", c.get("lslr_s"), r.get("lslr_s")) if tree else None
    add("mount: `ls -lR` >= 5x faster than restic", None if x is None else x >= 5,
        ("—" if tree else "one file, no tree to walk") if x is None else
        f"{fmt_s(c['lslr_s'])} vs {fmt_s(r['lslr_s'])} ({fmt_faster(x)})", x, 5.0)
    m = c.get("mount_rss_kib")
    add("mount: coffer mount process peak RSS < 100 MiB", None if m is None else m < 100 * 1024,
        "—" if m is None else f"{fmt_mib(m)} (coffer serve: {fmt_mib(c.get('serve_rss_kib'))})",
        None if m is None else m / 1024, 100.0)
    return out
