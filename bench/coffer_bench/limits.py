"""The machine limits (find, tar and cp of the corpus) and ceilings (bench/ceiling.cc on a
sample of the corpus)."""

import hashlib
import json
import os
import shlex
import shutil
import subprocess

from .settings import BENCH, ROOT, WORK
from .util import die, log, remove_tree, sh


def read_all_cmd(corpus_path):
    """The command that reads every file of the corpus once (the "read" limit, and what
    puts the corpus in the page cache)."""
    return ["sh", "-c", f"tar cf - -C {shlex.quote(corpus_path)} . | cat > /dev/null"]


def measure_limits(runner, corpus_path):
    out = {}
    out["find"] = runner.measure("limits-find", ["sh", "-c", f"find {shlex.quote(corpus_path)} "
                                                 "-ls > /dev/null"])
    if not runner.cold:  # read it once so the measured read is from the page cache
        subprocess.run(read_all_cmd(corpus_path))
    out["read"] = runner.measure("limits-read", read_all_cmd(corpus_path))
    dst = os.path.join(WORK, "cp-copy")
    shutil.rmtree(dst, ignore_errors=True)
    out["cp"] = runner.measure("limits-cp", ["cp", "-a", corpus_path, dst])
    remove_tree(dst)
    return out


CEILING_FIGS = (  # key in ceiling's JSON, label
    ("zstd_compress", "zstd -3 compression"),
    ("zstd_decompress", "zstd decompression"),
    ("blake2b", "BLAKE2b-256 (crypto_generichash)"),
    ("encrypt", "XChaCha20-Poly1305 encryption"),
    ("decrypt", "XChaCha20-Poly1305 decryption"),
    ("backup_pipeline", "backup: hash + compress + encrypt"),
    ("verify_pipeline", "verify: decrypt + decompress + hash"),
)


def build_ceiling():
    src = os.path.join(BENCH, "ceiling.cc")
    exe = os.path.join(WORK, "ceiling")
    sources = [src] + [os.path.join(ROOT, "store", "crypto", f)
                       for f in ("primitives.h", "primitives.cc")]
    if os.path.exists(exe) and os.path.getmtime(exe) >= max(map(os.path.getmtime, sources)):
        return exe
    log("building bench/ceiling.cc")
    try:
        # With Coffer's own primitives (store/crypto/primitives.cc), so the
        # ceiling is that of the code Coffer runs.
        primitives = [os.path.join(ROOT, "store", "crypto", f)
                      for f in ("primitives.cc", "sodium_init.cc")]
        sh(["g++", "-O2", "-std=c++20", "-I", ROOT, "-o", exe, src, *primitives,
            "-lsodium", "-lzstd", "-lcrypto", "-pthread"])
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        die(f"building bench/ceiling.cc failed ({e}); it needs g++, libsodium-dev, "
            "libzstd-dev and libssl-dev (`scripts/dev.sh deps`)")
    return exe


def ceiling_sample(corpus, limit):
    """The same slice (by size) of every corpus file, concatenated: at most `limit` bytes
    with the corpus's own mix of text, binaries, media and large files. Kept in WORK and
    made again only when the corpus's files (names, sizes, mtimes) or the limit change."""
    path = os.path.join(WORK, f"ceiling-sample-{corpus.name}.bin")
    files = []
    for d, _, names in os.walk(corpus.path):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files.append(p)
    files.sort()
    stats = [os.stat(p) for p in files]
    key = hashlib.sha256(json.dumps([limit] + [[os.path.relpath(p, corpus.path), st.st_size,
                                                 st.st_mtime_ns] for p, st in zip(files, stats)])
                         .encode()).hexdigest()
    stamp = path + ".stamp"
    if os.path.exists(path) and os.path.exists(stamp) and open(stamp).read() == key:
        return path
    if os.path.exists(stamp):
        os.unlink(stamp)
    total = sum(st.st_size for st in stats)
    frac = min(1.0, limit / total)
    with open(path, "wb") as out:
        for p, st in zip(files, stats):
            with open(p, "rb") as f:
                out.write(f.read(max(1, int(st.st_size * frac + 0.5)) if frac < 1 else st.st_size))
    with open(stamp, "w") as f:
        f.write(key)
    return path


def measure_ceiling(corpus, quick):
    exe = build_ceiling()
    sample = ceiling_sample(corpus, (32 if quick else 128) << 20)
    log("measuring the machine's ceilings (bench/ceiling)")
    r = subprocess.run([exe, sample, "--seconds", "0.1" if quick else "1",
                        "--tries", "2" if quick else "3"], capture_output=True, text=True)
    if r.returncode != 0:
        die(f"bench/ceiling failed: {r.stderr.strip()}")
    doc = json.loads(r.stdout)
    log("ceilings (MB/s, 1 core / all cores): " + ", ".join(
        f"{k} {doc['mbs_1'][k]:.0f}/{doc['mbs_all'][k]:.0f}" for k, _ in CEILING_FIGS))
    return doc
