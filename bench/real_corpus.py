"""The real-data corpora of bench/run: `--corpus system` and `--corpus biglibs`, this
machine's own files instead of generated ones. See bench/README.md, "Corpora".

bench/run imports this module and hands in its package, bench/coffer_bench, as `bench`,
so these corpora share its work folder, seed and log, the change step's bookkeeping
(keep_original, move_aside, revert_tree_change) and --big-file's writer (write_big_file,
BIG_FILE).

- system: a copy of real system folders (/usr/share, /usr/lib/python3, ...), made by
  GNU tar with owners, modes, times, hard links, ACLs and extended attributes, into
  bench/work/real-system-SIZE/ (the folders keep their paths below it). With --quick
  only /usr/share/doc and /usr/lib/python3.11.
- biglibs: one file, bench/work/real-biglibs-SIZE/large/big.img (the path of
  --big-file's file), of 1 GiB (quick: 128 MiB): the distinct shared libraries of
  /usr/lib/x86_64-linux-gnu, whole, one after another in path order, the last one cut
  to fit.

Both are made once and kept with a stamp (what was copied or concatenated, and a digest
of the sorted list of the source's paths, kinds, sizes, mtimes and link targets); the
next run reuses them while the source is unchanged and makes them again when it is not.
A corpus offers what bench/run's phase loop (bench/coffer_bench/phases.py) uses: name,
label, tree, path, info, ensure_base(), apply_change() (reverted by the next
ensure_base()) and describe().
"""

import fnmatch
import hashlib
import json
import os
import random
import shutil
import stat
import subprocess
import time

# Bump when what is copied, or how, changes, so a kept copy is made again.
VERSION = 1
SYSTEM_SOURCES = ("/usr/share", "/usr/lib/python3", "/usr/lib/python3.11", "/usr/lib/gcc",
                  "/usr/lib/git-core")
SYSTEM_SOURCES_QUICK = ("/usr/share/doc", "/usr/lib/python3.11")
LIB_DIR = "/usr/lib/x86_64-linux-gnu"
LIB_PATTERN = "*.so*"
BIGLIBS_QUICK_SIZE = 128 << 20
BLOCK = 64 << 10  # the change step rewrites the big file in blocks of this size
TAR_KEEP = ["--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner"]
NAMES = ("system", "biglibs")


def make(bench, name, quick):
    return {"system": SystemCorpus, "biglibs": BigLibsCorpus}[name](bench, quick)


def listing(root, tops):
    """Every entry below root/TOP for each of tops (paths relative to root), TOP itself
    included, on TOP's file system, sorted by path: (path relative to root, kind "d",
    "f" or "l", size, mtime_ns, link target, (st_dev, st_ino), st_nlink). Other kinds
    (sockets, devices) are left out: the copy does not take them."""
    out = []
    for top in tops:
        start = os.path.join(root, top)
        dev = os.lstat(start).st_dev
        for d, dirs, names in os.walk(start):
            out.append((os.path.relpath(d, root), "d", 0, 0, "", None, 1))
            keep = []
            for n in dirs:
                p = os.path.join(d, n)
                s = os.lstat(p)
                if stat.S_ISLNK(s.st_mode):
                    names.append(n)  # a link to a folder: listed, not followed
                elif s.st_dev == dev:
                    keep.append(n)
            dirs[:] = keep
            for n in names:
                p = os.path.join(d, n)
                st = os.lstat(p)
                rel = os.path.relpath(p, root)
                if stat.S_ISREG(st.st_mode):
                    out.append((rel, "f", st.st_size, st.st_mtime_ns, "",
                                (st.st_dev, st.st_ino), st.st_nlink))
                elif stat.S_ISLNK(st.st_mode):
                    out.append((rel, "l", 0, st.st_mtime_ns, os.readlink(p), None, 1))
    out.sort()
    return out


def summarize(entries):
    """Counts and a digest of a listing (folder times are left out of the digest: the
    change step changes them and puts them back, and no tool skips work by them)."""
    h = hashlib.sha256()
    files = dirs = links = hardlinked = 0
    nbytes = 0
    inodes = set()
    for rel, kind, size, mtime, target, ino, nlink in entries:
        h.update(json.dumps([rel, kind, size, mtime, target]).encode() + b"\n")
        if kind == "d":
            dirs += 1
        elif kind == "l":
            links += 1
        else:
            files += 1
            if nlink > 1:
                hardlinked += 1
            if ino not in inodes:
                inodes.add(ino)
                nbytes += size
    return {"files": files, "bytes": nbytes, "dirs": dirs, "symlinks": links,
            "hardlinked_files": hardlinked, "digest": h.hexdigest()}


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(path, doc):
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f)
    os.replace(path + ".tmp", path)


class RealCorpus:
    """What both real corpora share: paths in bench/work, the stamp, reverting."""

    label = None
    tree = True  # a tree of files, whose walks the mount phase measures

    def __init__(self, bench, quick):
        self.bench = bench
        self.quick = quick
        size = "quick" if quick else "full"
        self.name = f"{self.label}-{size}"  # for the files bench/run keeps per corpus
        self.path = os.path.join(bench.WORK, f"real-{self.label}-{size}")
        self.stamp = self.path + ".stamp"
        self.state = self.path + ".changed.json"
        self.orig = self.path + ".orig"
        self.info = {}

    def log(self, msg):
        self.bench.log(f"{self.label}: {msg}")

    def forget(self):
        """Removes the copy and everything kept beside it."""
        for p in (self.stamp, self.state):
            if os.path.exists(p):
                os.unlink(p)
        for p in (self.path, self.orig):
            self.bench.remove_tree(p)

    def revert_pending(self):
        """If a change step is recorded, undo it; if that fails, drop the stamp so the
        corpus is made again."""
        if not os.path.exists(self.state):
            return
        try:
            self.revert_change()
        except (OSError, ValueError, KeyError, TypeError) as e:
            self.log(f"cannot revert the change step ({e}); making the corpus again")
            for p in (self.stamp, self.state):
                if os.path.exists(p):
                    os.unlink(p)

    def revert_change(self):
        self.log("reverting the change step")
        st = read_json(self.state)
        if st is None:
            raise ValueError(f"unreadable {self.state}")
        self.bench.revert_tree_change(self.path, self.orig, st)
        shutil.rmtree(self.orig, ignore_errors=True)
        os.unlink(self.state)

    def times_of(self, rels):
        """rel -> [atime_ns, mtime_ns] of each path, for revert_tree_change."""
        out = {}
        for rel in rels:
            st = os.lstat(os.path.join(self.path, rel))
            out[rel] = [st.st_atime_ns, st.st_mtime_ns]
        return out


class SystemCorpus(RealCorpus):
    label = "system"

    def __init__(self, bench, quick):
        super().__init__(bench, quick)
        self.wanted = SYSTEM_SOURCES_QUICK if quick else SYSTEM_SOURCES

    def sources(self):
        have = [s for s in self.wanted if os.path.isdir(s) and not os.path.islink(s)]
        missing = [s for s in self.wanted if s not in have]
        if not have:
            self.bench.die(f"none of {', '.join(self.wanted)} exists on this machine")
        return have, missing

    def ensure_base(self):
        self.revert_pending()
        have, missing = self.sources()
        tops = [s.lstrip("/") for s in have]
        entries = listing("/", tops)
        src = summarize(entries)
        doc = read_json(self.stamp)
        want = {"version": VERSION, "sources": have, "digest": src["digest"]}
        if doc and doc.get("key") == want and os.path.isdir(self.path):
            copy = summarize(listing(self.path, tops))
            if copy["digest"] == src["digest"]:
                self.info = doc["info"]
                self.log(f"reusing {self.path} ({src['files']} files, "
                         f"{src['bytes'] / 1e6:.0f} MB; the sources are unchanged)")
                return
            self.log("the copy differs from the sources it was made from; copying again")
        elif doc:
            self.log("the sources changed since the copy was made; copying again")
        self.copy(have, missing, tops, entries, src, want)

    def copy(self, have, missing, tops, entries, src, want):
        t = time.monotonic()
        self.log(f"copying {', '.join(have)} ({src['files']} files, "
                 f"{src['bytes'] / 1e6:.0f} MB) to {self.path}"
                 + (f"; not on this machine: {', '.join(missing)}" if missing else ""))
        self.forget()
        os.makedirs(self.path)
        # The list names every entry (with --no-recursion), so that the copy is exactly
        # the listing the stamp describes; the folders above the sources ("usr",
        # "usr/lib") come first, with their own owners, modes and times.
        parents = sorted({p for top in tops for p in ancestors(top)})
        lst = self.path + ".list"
        with open(lst, "wb") as f:
            for rel in parents + [e[0] for e in entries]:
                f.write(rel.encode("utf-8", "surrogateescape") + b"\0")
        # --format=posix keeps the mtimes' nanoseconds (the stamp compares them).
        create = subprocess.Popen(["tar", "-C", "/", "-cf", "-", "--format=posix",
                                   "--no-recursion", "--null", "-T", lst] + TAR_KEEP,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        extract = subprocess.run(["tar", "-C", self.path, "-xpf", "-", "--same-owner"]
                                 + TAR_KEEP, stdin=create.stdout, capture_output=True)
        create.stdout.close()
        err = create.stderr.read()
        create.wait()
        os.unlink(lst)
        if create.returncode or extract.returncode:
            self.bench.die(f"copying {', '.join(have)} failed: "
                           f"{(err + extract.stderr).decode(errors='replace')[-2000:]}")
        os.utime(self.path, (self.bench.T0, self.bench.T0))
        copy = summarize(listing(self.path, tops))
        if copy["digest"] != src["digest"]:
            self.bench.die(f"the copy in {self.path} differs from its sources (did they "
                           "change while it was made?); run again")
        by_source = {}
        for e in entries:
            if e[1] == "f":
                top = next(x for x in tops if e[0] == x or e[0].startswith(x + "/"))
                by_source["/" + top] = by_source.get("/" + top, 0) + 1
        self.info = dict(copy, sources=have, missing_sources=missing, by_kind=by_source,
                         method="GNU tar --xattrs --acls (owners, modes, times, hard "
                                "links, ACLs and extended attributes kept)",
                         copy_seconds=round(time.monotonic() - t, 1))
        write_json(self.stamp, {"key": want, "info": self.info})
        self.log(f"copied in {self.info['copy_seconds']} s: {copy['files']} files, "
                 f"{copy['bytes'] / 1e6:.0f} MB, {copy['dirs']} folders, "
                 f"{copy['symlinks']} symbolic links")

    def describe(self):
        i = self.info
        return (f"a copy of {', '.join(f'`{s}`' for s in i['sources'])} of this machine"
                + (f" (not on this machine: {', '.join(i['missing_sources'])})"
                   if i.get("missing_sources") else "")
                + f", made by GNU tar with owners, modes, times, hard links, ACLs and "
                f"extended attributes: {i['files']} files, {i['bytes'] / 1e6:.0f} MB, "
                f"{i['dirs']} folders, {i['symlinks']} symbolic links"
                + (f", {i['hardlinked_files']} hard-linked files"
                   if i.get("hardlinked_files") else "")
                + " (files: " + ", ".join(f"{k} {v}" for k, v in sorted(i["by_kind"].items()))
                + ")")

    def apply_change(self):
        """About 1% of the files changed, picked by a seeded RNG from the sorted list of
        the regular, non-empty files: 1% edited in place (4 KiB in the middle rewritten,
        as a database or log does), 0.5% replaced by a new version (4 KiB inserted in
        the middle, written to a new file and renamed over, as a package upgrade does),
        0.5% deleted, and new files for 0.5% (a copy of another file with 4 KiB of its
        middle rewritten, beside it). New bytes are random. Everything is recorded
        before it is done, so the next ensure_base() undoes it, also after a crash."""
        b = self.bench
        rng = random.Random(f"{b.SEED}/{self.label}/change")
        root = self.path
        files = sorted(os.path.relpath(os.path.join(d, n), root)
                       for d, _, names in os.walk(root) for n in names
                       if stat.S_ISREG(os.lstat(os.path.join(d, n)).st_mode)
                       and os.lstat(os.path.join(d, n)).st_size > 0)
        n = len(files)
        k_edit, k_other = max(1, n // 100), max(1, n // 200)
        picks = rng.sample(files, k_edit + 2 * k_other)
        edit = picks[:k_edit]
        replace = picks[k_edit:k_edit + k_other]
        delete = picks[k_edit + k_other:]
        chosen = set(picks)
        add_from = rng.sample([f for f in files if f not in chosen], k_other)
        added = [os.path.join(os.path.dirname(rel), f"bench-new-{i}-{os.path.basename(rel)}")
                 for i, rel in enumerate(add_from)]
        folders = {os.path.dirname(rel) for rel in replace + delete + added}
        edits = []
        for rel in edit:
            size = os.lstat(os.path.join(root, rel)).st_size
            ln = min(4096, size)
            edits.append((rel, min(max(0, size // 2 - 2048), size - ln), ln))
        st = {"patched": [[rel, off] for rel, off, _ in edits], "replaced": replace,
              "deleted": delete, "added": added + [rel + ".bench-tmp" for rel in replace],
              "times": self.times_of(edit + replace + sorted(folders))}
        write_json(self.state, st)
        os.makedirs(self.orig, exist_ok=True)
        new_bytes = 0
        for rel, off, ln in edits:  # in place; the original bytes kept in orig/
            keep = os.path.join(self.orig, rel)
            os.makedirs(os.path.dirname(keep), exist_ok=True)
            with open(os.path.join(root, rel), "r+b") as f:
                f.seek(off)
                with open(keep, "wb") as k:
                    k.write(f.read(ln))
                f.seek(off)
                f.write(rng.randbytes(ln))
            new_bytes += ln

        def write_like(src, dst, data):  # a new file with src's owner, mode and xattrs
            with open(dst, "wb") as f:
                f.write(data)
            s = os.lstat(src)
            shutil.copystat(src, dst)
            os.chown(dst, s.st_uid, s.st_gid)
            os.utime(dst)  # a new version: modified now

        for rel in replace:
            p = os.path.join(root, rel)
            data = open(p, "rb").read()
            h = len(data) // 2
            data = data[:h] + rng.randbytes(4096) + data[h:]
            write_like(p, p + ".bench-tmp", data)
            b.keep_original(root, self.orig, rel)
            os.replace(p + ".bench-tmp", p)
            new_bytes += len(data)
        for rel in delete:
            b.move_aside(root, self.orig, rel)
        for src, rel in zip(add_from, added):
            data = open(os.path.join(root, src), "rb").read()
            ln = min(4096, len(data))
            off = min(max(0, len(data) // 2 - 2048), len(data) - ln)
            data = data[:off] + rng.randbytes(ln) + data[off + ln:]
            write_like(os.path.join(root, src), os.path.join(root, rel), data)
            new_bytes += len(data)
        summary = {"edited_in_place": len(edit), "replaced": len(replace),
                   "deleted": len(delete), "added": len(added), "new_bytes_approx": new_bytes}
        self.log(f"change step: {summary}")
        return summary


def ancestors(rel):
    """"usr/lib/gcc" -> ["usr", "usr/lib"]."""
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class BigLibsCorpus(RealCorpus):
    label = "biglibs"
    tree = False  # one file

    def __init__(self, bench, quick):
        super().__init__(bench, quick)
        self.rel = bench.BIG_FILE
        self.file = os.path.join(self.path, self.rel)
        self.target = BIGLIBS_QUICK_SIZE if quick else bench.BIG_SIZE

    def candidates(self):
        """(path, size, mtime_ns) of the regular files named *.so* below LIB_DIR (links
        left out), sorted by path."""
        out = []
        for d, dirs, names in os.walk(LIB_DIR):
            for n in names:
                if fnmatch.fnmatch(n, LIB_PATTERN):
                    p = os.path.join(d, n)
                    st = os.lstat(p)
                    if stat.S_ISREG(st.st_mode):
                        out.append((p, st.st_size, st.st_mtime_ns))
        out.sort()
        return out

    def ensure_base(self):
        self.revert_pending()
        if not os.path.isdir(LIB_DIR):
            self.bench.die(f"{LIB_DIR} does not exist on this machine")
        cands = self.candidates()
        want = {"version": VERSION, "dir": LIB_DIR, "pattern": LIB_PATTERN,
                "target_bytes": self.target,
                "digest": hashlib.sha256(json.dumps(cands).encode()).hexdigest()}
        doc = read_json(self.stamp)
        if doc and doc.get("key") == want and os.path.isfile(self.file) \
                and os.path.getsize(self.file) == doc["info"]["bytes"] \
                and os.listdir(self.path) == [self.rel.split("/")[0]] \
                and os.listdir(os.path.dirname(self.file)) == [os.path.basename(self.file)]:
            self.info = doc["info"]
            self.log(f"reusing {self.file} ({self.info['bytes'] >> 20} MiB; the libraries "
                     "are unchanged)")
            return
        if doc:
            self.log("the libraries changed since the file was made; making it again")
        self.build(cands, want)

    def build(self, cands, want):
        t = time.monotonic()
        self.log(f"concatenating the distinct shared libraries of {LIB_DIR} into "
                 f"{self.file} ({self.target >> 20} MiB)")
        self.forget()
        used, seen, dups = [], set(), [0]

        def libraries():  # each distinct library once, whole, in path order
            for p, _, _ in cands:
                with open(p, "rb") as f:
                    data = f.read()
                h = hashlib.sha256(data).digest()
                if h in seen:
                    dups[0] += 1
                    continue
                seen.add(h)
                used.append((p, len(data)))
                yield data

        n = self.bench.write_big_file(self.file, self.target, libraries())
        os.utime(self.path, (self.bench.T0, self.bench.T0))
        cut = sum(s for _, s in used) - n
        short = n < self.target
        if short:
            self.log(f"WARNING: the {len(used)} distinct libraries of {LIB_DIR} make only "
                     f"{n / 2**20:.0f} MiB, not {self.target >> 20} MiB: the file is that "
                     "long")
        self.info = {"files": 1, "bytes": n, "dirs": 2, "symlinks": 0,
                     "by_kind": {"libraries": len(used)}, "libraries": len(used),
                     "candidates": len(cands), "duplicates_left_out": dups[0],
                     "last_cut_bytes": cut, "last_library": used[-1][0] if used else None,
                     "target_bytes": self.target, "short_of_target": short,
                     "source": LIB_DIR, "build_seconds": round(time.monotonic() - t, 1)}
        write_json(self.stamp, {"key": want, "info": self.info})
        self.log(f"{len(used)} libraries, {n / 2**20:.0f} MiB in "
                 f"{self.info['build_seconds']} s")

    def describe(self):
        i = self.info
        return (f"one file, `{self.rel}`, of {i['bytes'] / 2**20:.0f} MiB "
                f"({i['bytes'] / 1e6:.0f} MB): "
                + ("all" if i["short_of_target"] else "the first")
                + f" {i['libraries']} distinct shared libraries of `{i['source']}` in path "
                f"order (regular `{LIB_PATTERN}` files, not links, each whole, "
                f"{i['duplicates_left_out']} duplicates by content left out"
                + (f", the last one cut by {i['last_cut_bytes']} bytes to fit"
                   if i["last_cut_bytes"] else "") + ")"
                + (f"; they make only {i['bytes'] / 2**20:.0f} MiB of the "
                   f"{i['target_bytes'] >> 20} MiB wanted" if i["short_of_target"] else ""))

    def apply_change(self):
        """About 1% of the big file's 64 KiB blocks (picked by a seeded RNG) rewritten
        with random bytes and 4 KiB inserted in the middle (so everything after it
        shifts), written as a new version renamed over the file, as the generated
        corpus's disk.img; the original is kept by a hard link for the revert."""
        b = self.bench
        rng = random.Random(f"{b.SEED}/{self.label}/change")
        p = self.file
        size = os.path.getsize(p)
        nblocks = max(1, size // BLOCK)
        picked = set(rng.sample(range(nblocks), max(1, nblocks // 100)))
        at = size // 2
        st = {"inserted": [self.rel], "added": [self.rel + ".bench-tmp"],
              "times": self.times_of([self.rel, os.path.dirname(self.rel)])}
        write_json(self.state, st)
        os.makedirs(self.orig, exist_ok=True)
        b.keep_original(self.path, self.orig, self.rel)
        with open(p, "rb") as src, open(p + ".bench-tmp", "wb") as dst:
            pos = 0
            for i in range((size + BLOCK - 1) // BLOCK):
                block = src.read(BLOCK)
                if i in picked:
                    block = rng.randbytes(len(block))
                if pos <= at < pos + len(block):
                    block = block[:at - pos] + rng.randbytes(4096) + block[at - pos:]
                dst.write(block)
                pos += BLOCK
        os.chmod(p + ".bench-tmp", os.stat(p).st_mode & 0o7777)
        os.replace(p + ".bench-tmp", p)
        summary = {"blocks_rewritten": len(picked), "inserted_into": 1,
                   "new_bytes_approx": len(picked) * BLOCK + 4096}
        self.log(f"change step: {summary}")
        return summary
