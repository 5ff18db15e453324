"""The large-count case: garbage collection of a repository with about a million
chunks."""

import json
import os
import shutil
import subprocess
import time

from .settings import (MANY_BORG_CHUNKER, MANY_CHUNK_SIZES, MANY_FILES, MANY_MEAN_CHUNK,
                       PASSPHRASE, SEED, T0, T1, WORK)
from .util import log, remove_tree, sh
from .measure import du
from .tools import Tool, stop_coffer_serve
from .corpus import Entropy


class ManyChunks:
    """Incompressible files (openssl AES-CTR) cut by tiny chunk sizes into about
    `chunks` chunks, in WORK/many-N/cur/; `swap()` replaces a tenth of the files (hard
    links to other random files), `restore()` puts them back."""

    def __init__(self, chunks, mean_chunk):
        self.chunks = chunks
        self.bytes = int(chunks * mean_chunk)
        self.dir = os.path.join(WORK, f"many-{chunks}")
        self.cur = os.path.join(self.dir, "cur")
        self.n_swap = max(1, MANY_FILES // 10)

    def ensure(self):
        stamp = os.path.join(self.dir, "stamp")
        text = json.dumps({"bytes": self.bytes, "files": MANY_FILES, "version": 2})
        if os.path.exists(stamp) and open(stamp).read() == text:
            self.restore()
            return
        shutil.rmtree(self.dir, ignore_errors=True)
        t = time.monotonic()
        log(f"generating {self.bytes / 1e6:.0f} MB of random files for ~{self.chunks} chunks")
        each = self.bytes // MANY_FILES
        for sub, n, tag in (("base", MANY_FILES, "many-base"), ("alt", self.n_swap, "many-alt")):
            os.makedirs(os.path.join(self.dir, sub))
            ent = Entropy(SEED + 3, f"{tag}-{self.bytes}")
            for i in range(n):
                with open(os.path.join(self.dir, sub, f"f{i:03d}"), "wb") as f:
                    left = each
                    while left:
                        piece = ent.take(min(left, 32 << 20))
                        f.write(piece)
                        left -= len(piece)
                os.utime(os.path.join(self.dir, sub, f"f{i:03d}"), (T0, T0))
            ent.close()
        open(stamp, "w").write(text)
        self.restore()
        log(f"many-chunks data in {time.monotonic() - t:.0f} s")

    def _link(self, sub, i):
        # 8 files a folder: a folder's tree lists every chunk of its files, and one tree
        # of a million chunks (~35 MB) is more than the server takes in one object.
        dst = os.path.join(self.cur, f"d{i // 8}", f"f{i:03d}")
        tmp = dst + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.link(os.path.join(self.dir, sub, f"f{i:03d}"), tmp)
        os.replace(tmp, dst)

    def restore(self):
        shutil.rmtree(self.cur, ignore_errors=True)  # only hard links
        for i in range(MANY_FILES):
            os.makedirs(os.path.join(self.cur, f"d{i // 8}"), exist_ok=True)
            self._link("base", i)
        for d, _, _ in os.walk(self.cur):
            os.utime(d, (T0, T0))

    def swap(self):
        for i in range(self.n_swap):
            self._link("alt", i)
        for d, _, _ in os.walk(self.cur):
            os.utime(d, (T1, T1))


def measure_many_chunks(runner, coffer, tools, chunks, mean_chunk):
    """The large-count case: per tool and size, back up ~N chunks, replace a tenth of the
    data, back up again, forget the first snapshot and collect. coffer runs at N and at
    N/4 (two points give the memory per chunk without the fixed part); borg, at its
    slower backup, at N/4 only."""
    small = max(1000, chunks // 4)
    out = {"target_chunks": chunks, "small_chunks": small, "files": MANY_FILES,
           "mean_chunk_bytes": mean_chunk}
    for name in tools:
        if name == "restic":
            continue  # its chunk sizes are fixed (512 KiB-8 MiB)
        for n in ([small, chunks] if name == "coffer" else [small]):
            data = ManyChunks(n, MANY_MEAN_CHUNK)
            data.ensure()
            out.setdefault(name, {})[str(n)] = many_case(runner, coffer, name, data)
            out.setdefault("data_bytes", {})[str(n)] = data.bytes
            out["swapped_files"] = data.n_swap
            data.restore()
    return out


def many_case(runner, coffer, name, data):
    tool = Tool(name, runner, coffer, data.cur, f"many{data.chunks}")
    res = {}
    tag = f"many{data.chunks}"
    if name == "coffer":
        runner.measure(f"coffer-{tag}-init", [coffer, "init", "--chunk-size",
                                              ",".join(map(str, MANY_CHUNK_SIZES))],
                       env=tool.env)
    else:
        tool.init()
    for label in ("first", "second"):
        if label == "second":
            data.swap()
        if name == "coffer":
            s, rss, cpu = tool.run(f"{tag}-{label}", [coffer, "backup", data.cur, "--group",
                                                      "host/many", "--json"])
            res[label] = {"time_s": s, "rss_kib": rss, "cpu_s": cpu,
                          "chunks_added": json.load(open(runner.last_out))["chunks_added"]}
        else:
            tool.nbackup += 1
            s, rss, cpu = tool.run(f"{tag}-{label}", [
                "borg", "create", "--json", "--chunker-params", MANY_BORG_CHUNKER,
                "--compression", "zstd,3", f"::many-{tool.nbackup}", data.cur])
            stats = json.load(open(runner.last_out))["cache"]["stats"]
            res[label] = {"time_s": s, "rss_kib": rss, "cpu_s": cpu,
                          "unique_chunks": stats["total_unique_chunks"]}
        res[label]["repo_bytes"] = du(tool.repo)
    res["forget"] = tool.forget(f"{tag}-forget")
    res["gc"] = tool.gc(f"{tag}-gc", warm=True)
    if name == "coffer":  # the snapshot left must be whole (tool.verify dies if not)
        res["verify"] = tool.verify(f"{tag}-verify")
        res["verified"] = True
    remove_tree(tool.home)
    return res


def many_chunk_mean(coffer, runner):
    """The mean chunk size of MANY_CHUNK_SIZES on random bytes, from a trial backup."""
    home = os.path.join(WORK, "many-trial")
    shutil.rmtree(home, ignore_errors=True)
    os.makedirs(os.path.join(home, "data"))
    size = 16 << 20
    with open(os.path.join(home, "data", "f"), "wb") as f:
        f.write(os.urandom(size))
    env = dict(os.environ, COFFER_REPO=os.path.join(home, "repo"), COFFER_PASSPHRASE=PASSPHRASE)
    sh([coffer, "init", "--kdf-ops", "1", "--kdf-memory", "8M", "--chunk-size",
        ",".join(map(str, MANY_CHUNK_SIZES))], env=env, stdout=subprocess.DEVNULL)
    r = sh([coffer, "backup", os.path.join(home, "data"), "--group", "host/trial", "--json"],
           env=env, capture_output=True, text=True)
    stop_coffer_serve(os.path.join(home, "repo"))
    shutil.rmtree(home)
    mean = size / json.loads(r.stdout)["chunks_added"]
    log(f"coffer --chunk-size {','.join(map(str, MANY_CHUNK_SIZES))}: mean chunk {mean:.0f} B")
    return mean


def summarize_many(many, med):
    """Per-million-chunk figures of the large-count case."""
    out = {k: many.get(k) for k in ("target_chunks", "small_chunks", "mean_chunk_bytes",
                                      "files", "swapped_files", "data_bytes")}

    def figures(name, r):
        g = r["gc"]
        if name == "coffer":
            stored = r["first"]["chunks_added"] + r["second"]["chunks_added"]
            first_chunks = r["first"]["chunks_added"]
        else:
            stored = r["second"]["unique_chunks"]
            first_chunks = r["first"]["unique_chunks"]
        n = g.get("objects_examined") or stored or 1
        d = {"chunks_stored": stored, "objects_examined": g.get("objects_examined"),
             "objects_deleted": g.get("objects_deleted"),
             "first_backup_s": r["first"]["time_s"],
             "first_backup_chunks_per_s": first_chunks / r["first"]["time_s"],
             "second_backup_s": r["second"]["time_s"],
             "forget_s": r["forget"]["time_s"], "forget_rss_kib": r["forget"]["rss_kib"],
             "gc_s": g["time_s"], "gc_cpu_s": g["cpu_s"], "gc_client_rss_kib": g["rss_kib"],
             "gc_serve_rss_kib": g.get("serve_rss_kib"),
             "gc_serve_ready_rss_kib": g.get("serve_ready_rss_kib"),
             "repo_before_bytes": g["repo_before_bytes"], "repo_after_bytes": g["repo_bytes"],
             "gc_s_per_million": g["time_s"] * 1e6 / n,
             "forget_gc_s_per_million": (r["forget"]["time_s"] + g["time_s"]) * 1e6 / n,
             "verified_after_gc": r.get("verified")}
        if r.get("verify"):
            v = r["verify"]
            d.update(verify_s=v["time_s"], verify_chunks=v.get("chunks_checked"),
                     verify_chunks_per_s=(v.get("chunks_checked") or 0) / v["time_s"],
                     verify_serve_rss_kib=v.get("serve_rss_kib"),
                     verify_client_rss_kib=v["rss_kib"])
        if g.get("serve_ready_rss_kib"):
            growth = (g["serve_rss_kib"] - g["serve_ready_rss_kib"]) * 1024
            d["serve_growth_bytes_per_object"] = growth / n
        return d

    for name in ("coffer", "borg"):
        runs = many.get(name)
        if not runs:
            continue
        sizes = sorted(runs, key=int)
        d = figures(name, runs[sizes[-1]])
        d["chunks_target"] = int(sizes[-1])
        if name == "coffer" and len(sizes) > 1:
            lo = figures(name, runs[sizes[0]])
            dn = d["objects_examined"] - lo["objects_examined"]
            if dn > 0:
                d["slope_small_objects"] = lo["objects_examined"]
                def growth(x):
                    return x["gc_serve_rss_kib"] - (x.get("gc_serve_ready_rss_kib") or 0)
                d["serve_slope_bytes_per_object"] = (growth(d) - growth(lo)) * 1024 / dn
                d["client_slope_bytes_per_object"] = \
                    (d["gc_client_rss_kib"] - lo["gc_client_rss_kib"]) * 1024 / dn
                d["gc_slope_s_per_million"] = (d["gc_s"] - lo["gc_s"]) * 1e6 / dn
            d["small"] = lo
        out[name] = d
    return out


def evaluate_many_targets(summary):
    c = summary.get("coffer")
    if not c:
        return []
    x = c.get("serve_growth_bytes_per_object")
    y = c.get("serve_slope_bytes_per_object")
    return [{"target": "gc: coffer serve memory grows by at most 16 bytes per stored chunk "
                       "(peak RSS during gc minus RSS when ready, over the objects examined; "
                       "ready: after every tree was read once, so the fixed block cache is "
                       "full)",
             "status": "n/a" if x is None else ("met" if x <= 16 else "not met"),
             "actual": "—" if x is None else
             f"{x:.1f} B/object over {c['objects_examined']} objects"
             + ("" if y is None else f"; slope between {c['slope_small_objects']} and "
                f"{c['objects_examined']} objects: {y:.1f} B/object"),
             "value": x, "need": 16.0}]
