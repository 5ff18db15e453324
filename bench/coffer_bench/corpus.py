"""The generated corpus (--corpus generated, the default): a seeded tree, the same on every
run, and its 1% change step; what every corpus shares (the big file's writer, the change
step's bookkeeping); make_corpus, which makes bench/real_corpus.py's corpora too."""

import hashlib
import json
import mmap
import os
import random
import shutil
import sys
import time

from .settings import BENCH, BIG_FILE, BIG_SIZE, CORPUS_VERSION, SEED, T0, T1, WORK
from .util import log, sh


class Entropy:
    """A seeded stream of incompressible bytes: AES-128-CTR of zeros, made by openssl
    into segment files (much faster than Python's own generators) and handed out
    sequentially, so no two pieces of the corpus share random content."""

    SEG = 64 << 20

    def __init__(self, seed, tag):
        self.key = hashlib.sha256(f"{seed}/{tag}".encode()).hexdigest()[:32]
        self.dir = os.path.join(WORK, "entropy")
        self.n = 0
        self.buf = b""
        self.pos = 0
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)

    def _segment(self):
        path = os.path.join(self.dir, f"seg{self.n}")
        # The IV is CTR's starting block counter: segment n starts where segment n-1
        # ended, so the stream never repeats (counters n, n+1, ... would make every
        # segment the previous one shifted by 16 bytes, which deduplicates).
        iv = f"{self.n * (self.SEG // 16):032x}"
        sh(["sh", "-c", f"head -c {self.SEG} /dev/zero | openssl enc -aes-128-ctr -nosalt "
                        f"-K {self.key} -iv {iv} -out {path}"])
        self.n += 1
        with open(path, "rb") as f:
            m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            data = m[:]
            m.close()
        os.unlink(path)
        return data

    def take(self, n):
        out = []
        while n > 0:
            if self.pos >= len(self.buf):
                self.buf, self.pos = self._segment(), 0
            piece = self.buf[self.pos:self.pos + n]
            self.pos += len(piece)
            n -= len(piece)
            out.append(piece)
        return b"".join(out)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


KEYWORDS = ["if", "for", "while", "return", "const", "auto", "static", "struct", "class",
            "def", "import", "let", "var", "switch", "case", "template", "namespace", "fn"]
WORDS = ["buffer", "index", "count", "node", "tree", "chunk", "offset", "length", "key",
         "value", "result", "status", "error", "reader", "writer", "path", "entry", "table",
         "cache", "handle", "session", "config", "option", "parser", "token", "stream",
         "block", "record", "header", "payload", "digest", "cursor", "queue", "worker"]
TYPES = ["int", "size_t", "uint64_t", "std::string", "Status", "bool", "Bytes", "auto"]


def make_line_pool(rng, n):
    pool = []
    for _ in range(n):
        ind = " " * (2 * rng.randrange(0, 5))
        a, b, c = rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)
        num = rng.randrange(0, 100000)
        k = rng.randrange(9)
        if k == 0:
            s = f"{ind}{rng.choice(TYPES)} {a}_{b} = {c}({a}, {num});"
        elif k == 1:
            s = f"{ind}if ({a}.{b}() != {num}) return {c}_{a};"
        elif k == 2:
            s = f"{ind}// {a.capitalize()} the {b} of each {c} before {rng.choice(WORDS)}ing ({num})."
        elif k == 3:
            s = f"{ind}for (auto& {a} : {b}s_) {{ {c} += {a}.size(); }}"
        elif k == 4:
            s = f"{ind}}}"
        elif k == 5:
            s = f"{ind}{rng.choice(KEYWORDS)} {a}{num % 97}({rng.choice(TYPES)} {b}, {rng.choice(TYPES)} {c}) {{"
        elif k == 6:
            s = ""
        elif k == 7:
            s = f'{ind}LOG(INFO) << "{a} {b}: " << {c} << " at " << {num};'
        else:
            s = f"{ind}{a}_{b}_[{num % 256}] = {c}_{num % 13} ^ 0x{rng.getrandbits(32):08x};"
        pool.append(s)
    return pool


# ---------------------------------------------------------------------------------------
# What every corpus shares: the big file's writer and the change step's bookkeeping


def write_big_file(path, size, pieces):
    """Writes path from the byte strings of `pieces` (the last one cut to fit) until it
    holds `size` bytes or pieces runs out, then gives it and its folder the corpus's
    fixed mtime. Returns the bytes written. Used for --big-file's large/big.img and for
    the biglibs corpus's (bench/real_corpus.py)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    n = 0
    with open(path, "wb") as f:
        for piece in pieces:
            piece = piece[:size - n]
            f.write(piece)
            n += len(piece)
            if n >= size:
                break
    os.utime(path, (T0, T0))
    os.utime(os.path.dirname(path), (T0, T0))
    return n


def keep_original(root, orig, rel):
    """Before root/rel is replaced by a new file: a hard link to it in orig/rel, so that
    revert_tree_change can put it back."""
    dst = os.path.join(orig, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.link(os.path.join(root, rel), dst)


def move_aside(root, orig, rel):
    """Deletes root/rel the revertible way: moves it to orig/rel."""
    dst = os.path.join(orig, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    os.rename(os.path.join(root, rel), dst)


def revert_tree_change(root, orig, st):
    """Undoes a change step from what it recorded in st (saved before each step, so an
    interrupted change is undone too; every step here is safe to repeat):
    - "added": files to remove; "added_dirs": folders to remove with what is in them;
    - "deleted", "edited", "inserted", "replaced": files whose original is in orig/ (moved
      there or hard-linked there before a new file was renamed over them): put back;
    - "patched": [path, offset] of files changed in place, the original bytes from that
      offset in orig/path: written back;
    - "appended": [path, original size]: truncated;
    - "times": path -> [atime_ns, mtime_ns]: set last (files and folders).
    The caller removes orig and the state file."""
    for rel in st.get("added", ()):
        p = os.path.join(root, rel)
        if os.path.lexists(p):
            os.unlink(p)
    for d in st.get("added_dirs", ()):
        shutil.rmtree(os.path.join(root, d), ignore_errors=True)
    for rel in st.get("deleted", []) + st.get("edited", []) + st.get("inserted", []) + \
            st.get("replaced", []):
        src = os.path.join(orig, rel)
        if os.path.exists(src):
            os.replace(src, os.path.join(root, rel))
    for rel, offset in st.get("patched", ()):
        src = os.path.join(orig, rel)
        if os.path.exists(src):
            with open(src, "rb") as f:
                data = f.read()
            with open(os.path.join(root, rel), "r+b") as f:
                f.seek(offset)
                f.write(data)
    for rel, size in st.get("appended", ()):
        os.truncate(os.path.join(root, rel), size)
    for rel, (atime, mtime) in st.get("times", {}).items():
        p = os.path.join(root, rel)
        if os.path.lexists(p):
            os.utime(p, ns=(atime, mtime), follow_symlinks=False)


class Corpus:
    """The generated corpus (--corpus generated, the default)."""

    label = "generated"
    tree = True  # a tree of files, whose walks the mount phase measures
    ADDED_DIRS = ("src/newproject", "media/new")  # made by the change step

    def __init__(self, quick):
        self.quick = quick
        self.scale = 0.1 if quick else 1.0
        self.name = "quick" if quick else "full"
        self.path = os.path.join(WORK, f"corpus-{self.name}")
        self.stamp = os.path.join(WORK, f"corpus-{self.name}.stamp")
        self.state = os.path.join(WORK, f"corpus-{self.name}.changed.json")
        self.orig = os.path.join(WORK, f"corpus-{self.name}.orig")
        self.info = {}

    def stamp_text(self):
        return json.dumps({"version": CORPUS_VERSION, "seed": SEED, "scale": self.scale})

    # -- the base tree --

    def ensure_base(self):
        """Make self.path the base corpus: reuse it, revert the change step, or generate."""
        if os.path.exists(self.state):
            try:
                self.revert_change()
            except (OSError, ValueError, KeyError) as e:
                log(f"cannot revert the change step ({e}); regenerating")
                for p in (self.stamp, self.state):
                    if os.path.exists(p):
                        os.unlink(p)
        ok = os.path.exists(self.stamp) and open(self.stamp).read() == self.stamp_text()
        if ok and os.path.isdir(self.path):
            self.info.update(json.load(open(self.stamp + ".info")))
            log(f"reusing corpus {self.path}")
            return
        self.generate()

    def ensure_big_file(self, want):
        """--big-file: add (or, without it, remove) large/big.img, 1 GiB of the same
        semi-compressible blocks as the other large files, for the mount's read figures.
        Kept apart from the base corpus (its own seed and stamp), so the flag does not
        regenerate the rest."""
        p = os.path.join(self.path, BIG_FILE)
        stamp = self.stamp + ".big"
        have = os.path.exists(p) and os.path.exists(stamp) and os.path.getsize(p) == BIG_SIZE
        if not want:
            if os.path.exists(p):
                log(f"removing {BIG_FILE} (no --big-file)")
                os.unlink(p)
            return
        if not have:
            t = time.monotonic()
            log(f"generating {BIG_FILE} ({BIG_SIZE >> 20} MiB)")
            rng = random.Random(SEED + 2)
            ent = Entropy(SEED + 2, self.name + "-big")
            pool = make_line_pool(rng, 5000)

            def blocks():
                while True:
                    k = rng.random()
                    if k < 0.5:
                        yield ent.take(65536)
                    elif k < 0.85:
                        yield "\n".join(rng.choices(pool, k=1900)).encode()[:65536]
                    else:
                        yield (bytes(4096) + ent.take(64)) * 15

            write_big_file(p, BIG_SIZE, blocks())
            ent.close()
            open(stamp, "w").write("1")
            log(f"{BIG_FILE} in {time.monotonic() - t:.1f} s")
        self.info["files"] += 1
        self.info["bytes"] += BIG_SIZE
        self.info["by_kind"]["large"] = self.info["by_kind"].get("large", 0) + 1

    def generate(self):
        t = time.monotonic()
        log(f"generating the {self.name} corpus in {self.path}")
        for p in (self.path, self.orig, self.stamp, self.state):
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.unlink(p)
        S = self.scale
        rng = random.Random(SEED)
        ent = Entropy(SEED, self.name)
        pool = make_line_pool(rng, 40000)
        root = self.path
        files = []  # (relpath, kind)

        def write(rel, data, kind):
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
            files.append((rel, kind))

        # Many small source-like text files in nested directories.
        n_text = int(60000 * S)
        exts = [".cc", ".h", ".py", ".rs", ".go", ".md", ".txt", ".json", ".js"]
        dirs = []
        for p in range(max(10, int(30 * S))):
            for m in range(rng.randrange(3, 12)):
                base = f"src/project{p:02d}/module{m:02d}"
                dirs.append(base)
                for s in range(rng.randrange(0, 5)):
                    dirs.append(f"{base}/sub{s}")
                    if rng.random() < 0.3:
                        dirs.append(f"{base}/sub{s}/detail")
        for i in range(n_text):
            d = rng.choice(dirs)
            rel = f"{d}/{rng.choice(WORDS)}_{i:06d}{rng.choice(exts)}"
            nlines = min(6000, max(3, int(rng.lognormvariate(4.25, 1.0))))
            body = "\n".join(rng.choices(pool, k=nlines))
            write(rel, f"// {rel}\n{body}\n".encode(), "text")

        # Binaries: a mix of random, zeros, repeated patterns and strings (~2x compressible).
        def binary(size):
            out, n = [b"\x7fELF\x02\x01\x01\x00"], 8
            while n < size:
                k = rng.randrange(4)
                ln = rng.randrange(256, 4096)
                if k == 0:
                    piece = ent.take(ln)
                elif k == 1:
                    piece = bytes(ln // 2)
                elif k == 2:
                    piece = (ent.take(16) * (ln // 16 + 1))[:ln]
                else:
                    piece = "\0".join(rng.choices(pool, k=ln // 40)).encode()
                out.append(piece)
                n += len(piece)
            return b"".join(out)[:size]

        for i in range(max(10, int(200 * S))):
            write(f"bin/tool{i:03d}", binary(rng.randrange(100_000, 1_000_000)), "bin")

        # Already compressed files: random bytes.
        mexts = [".jpg", ".png", ".zst", ".gz", ".mp4"]
        for i in range(max(10, int(300 * S))):
            write(f"media/{i % 7}/item{i:04d}{rng.choice(mexts)}",
                  ent.take(rng.randrange(100_000, 900_000)), "media")

        # Duplicates: whole copies of some projects and of some binaries and media files.
        srcs = sorted({r.split("/")[1] for r, k in files if k == "text"})
        text_files = [(r, k) for r, k in files if k == "text"]
        dup_projects = srcs[:max(1, len(srcs) // 10)]
        for rel, _ in text_files:
            if rel.split("/")[1] in dup_projects:
                dst = "dup/vendor/" + rel[len("src/"):]
                os.makedirs(os.path.dirname(os.path.join(root, dst)), exist_ok=True)
                shutil.copyfile(os.path.join(root, rel), os.path.join(root, dst))
                files.append((dst, "dup"))
        for rel, kind in [f for f in files if f[1] in ("bin", "media")][::15]:
            dst = "dup/copies/" + rel.replace("/", "_")
            os.makedirs(os.path.dirname(os.path.join(root, dst)), exist_ok=True)
            shutil.copyfile(os.path.join(root, rel), os.path.join(root, dst))
            files.append((dst, "dup"))

        # A few large semi-compressible files: 64 KiB blocks of random bytes, text, or
        # zeros with a pattern.
        def large(rel, size):
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                n = 0
                while n < size:
                    k = rng.random()
                    if k < 0.5:
                        block = ent.take(65536)
                    elif k < 0.85:
                        block = "\n".join(rng.choices(pool, k=1900)).encode()[:65536]
                    else:
                        block = (bytes(4096) + ent.take(64)) * 15
                    block = block[:size - n]
                    f.write(block)
                    n += len(block)
            files.append((rel, "large"))

        large("large/disk.img", int(300 * S * 1e6))
        large("large/db.dump", int(150 * S * 1e6))

        ent.close()
        for rel, _ in files:
            os.utime(os.path.join(root, rel), (T0, T0))
        for d, _, _ in os.walk(root, topdown=False):
            os.utime(d, (T0, T0))
        nbytes = sum(os.path.getsize(os.path.join(root, r)) for r, _ in files)
        kinds = {}
        for _, k in files:
            kinds[k] = kinds.get(k, 0) + 1
        self.info = {"files": len(files), "bytes": nbytes, "by_kind": kinds,
                     "generate_seconds": round(time.monotonic() - t, 1)}
        with open(self.stamp + ".info", "w") as f:
            json.dump(self.info, f)
        with open(self.stamp, "w") as f:
            f.write(self.stamp_text())
        log(f"corpus: {len(files)} files, {nbytes / 1e6:.0f} MB in "
            f"{self.info['generate_seconds']} s")

    def describe(self):
        i = self.info
        return (f"{i['files']} files, {i['bytes'] / 1e6:.0f} MB "
                f"({', '.join(f'{k} {v}' for k, v in sorted(i['by_kind'].items()))})")

    # -- the 1% change step --

    def apply_change(self):
        """Edit, append to, insert into, delete and add files; reversible with
        revert_change() (originals are kept in self.orig)."""
        S = self.scale
        rng = random.Random(SEED + 1)
        ent = Entropy(SEED + 1, self.name)
        pool = make_line_pool(rng, 5000)
        root = self.path
        st = {"edited": [], "appended": [], "inserted": [], "deleted": [], "added": [],
              "added_dirs": list(self.ADDED_DIRS)}
        added_bytes = 0

        def save_state():
            with open(self.state, "w") as f:
                json.dump(st, f)

        save_state()  # from here on a crash is reverted by the next ensure_base()
        os.makedirs(self.orig, exist_ok=True)
        text = []
        for d, _, names in os.walk(os.path.join(root, "src")):
            text += [os.path.relpath(os.path.join(d, n), root) for n in names]
        text.sort()
        n = len(text)
        picks = rng.sample(text, int(0.01 * n) + int(0.005 * n) * 2)
        edit = picks[:int(0.01 * n)]
        append = picks[int(0.01 * n):int(0.01 * n) + int(0.005 * n)]
        delete = picks[int(0.01 * n) + int(0.005 * n):]
        media = sorted(os.path.relpath(os.path.join(d, x), root)
                       for d, _, ns in os.walk(os.path.join(root, "media")) for x in ns)
        delete += rng.sample(media, 2)

        def keep(rel):
            keep_original(root, self.orig, rel)

        for rel in edit:  # rewrite a few lines, as an editor does (new file, rename)
            p = os.path.join(root, rel)
            lines = open(p, "rb").read().split(b"\n")
            for _ in range(rng.randrange(1, 6)):
                lines[rng.randrange(len(lines))] = rng.choice(pool).encode()
            lines.insert(1, b"// edited by the bench change step")
            keep(rel)
            st["edited"].append(rel)
            save_state()
            with open(p + ".tmp", "wb") as f:
                f.write(b"\n".join(lines))
            os.replace(p + ".tmp", p)
            os.utime(p, (T1, T1))
            added_bytes += os.path.getsize(p)
        for rel in append:  # append in place
            p = os.path.join(root, rel)
            st["appended"].append([rel, os.path.getsize(p)])
            save_state()
            data = ("\n".join(rng.choices(pool, k=rng.randrange(5, 60))) + "\n").encode()
            with open(p, "ab") as f:
                f.write(data)
            os.utime(p, (T1, T1))
            added_bytes += len(data)
        # Append to the large database dump, in place.
        p = os.path.join(root, "large/db.dump")
        st["appended"].append(["large/db.dump", os.path.getsize(p)])
        save_state()
        data = ent.take(int(1e6 * S))
        with open(p, "ab") as f:
            f.write(data)
        os.utime(p, (T1, T1))
        added_bytes += len(data)
        # Insert 4 KiB in the middle of the large disk image (a new file, renamed over).
        rel = "large/disk.img"
        p = os.path.join(root, rel)
        size = os.path.getsize(p)
        keep(rel)
        st["inserted"].append(rel)
        save_state()
        with open(p, "rb") as src, open(p + ".tmp", "wb") as dst:
            dst.write(src.read(size // 2))
            dst.write(ent.take(4096))
            shutil.copyfileobj(src, dst, 1 << 22)
        os.replace(p + ".tmp", p)
        os.utime(p, (T1, T1))
        added_bytes += 4096
        for rel in delete:  # deleted files are moved aside
            st["deleted"].append(rel)
            save_state()
            move_aside(root, self.orig, rel)
        new = [(f"src/newproject/part{i % 4}/new_{i:05d}.cc", None)
               for i in range(int(0.005 * n))]
        new += [(f"media/new/clip{i}.mp4", 1_000_000) for i in range(max(1, int(3 * S)))]
        for rel, msize in new:
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            st["added"].append(rel)
            save_state()
            if msize:
                data = ent.take(msize)
            else:
                data = ("\n".join(rng.choices(pool, k=rng.randrange(10, 200))) + "\n").encode()
            with open(p, "wb") as f:
                f.write(data)
            os.utime(p, (T1, T1))
            added_bytes += len(data)
        ent.close()
        save_state()
        summary = {"edited": len(st["edited"]), "appended": len(st["appended"]),
                   "inserted_into": len(st["inserted"]), "deleted": len(st["deleted"]),
                   "added": len(st["added"]), "new_bytes_approx": added_bytes}
        log(f"change step: {summary}")
        return summary

    def revert_change(self):
        log("reverting the change step")
        st = json.load(open(self.state))
        st.setdefault("added_dirs", list(self.ADDED_DIRS))  # a state saved before it had them
        revert_tree_change(self.path, self.orig, st)
        for rel, _ in st["appended"]:
            os.utime(os.path.join(self.path, rel), (T0, T0))
        for d, _, _ in os.walk(self.path, topdown=False):
            os.utime(d, (T0, T0))
        shutil.rmtree(self.orig, ignore_errors=True)
        os.unlink(self.state)


def tree_manifest(root):
    """relative path -> (size, sha1) of every regular file below root, ("link", target)
    of every symbolic link."""
    out = {}
    for d, dirs, names in os.walk(root):
        for n in names + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, n)
            if os.path.islink(p):
                out[os.path.relpath(p, root)] = ("link", os.readlink(p))
                continue
            h = hashlib.sha1()
            with open(p, "rb") as f:
                while True:
                    b = f.read(1 << 20)
                    if not b:
                        break
                    h.update(b)
            out[os.path.relpath(p, root)] = (os.path.getsize(p), h.hexdigest())
    return out


def make_corpus(name, quick):
    """The corpus called name: the generated one, or one of bench/real_corpus.py's."""
    if name == "generated":
        return Corpus(quick)
    sys.dont_write_bytecode = True  # no __pycache__ beside the script
    if BENCH not in sys.path:
        sys.path.insert(0, BENCH)
    import real_corpus
    return real_corpus.make(sys.modules[__package__], name, quick)


def count_folders(root):
    return sum(1 for _ in os.walk(root))
