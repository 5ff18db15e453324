"""Every run of every phase chosen, on one corpus."""

import os
import subprocess

from .settings import PHASES, SHORT_S, SHORT_SAMPLES, WORK
from .util import log, remove_tree
from .tools import Tool, coffer_verify_ok, stop_coffer_serve
from .corpus import tree_manifest
from .limits import measure_ceiling, measure_limits, read_all_cmd
from .mount import largest_file, measure_mount, measure_source_walks


def run_corpus(corpus, c):
    """Every run of every phase chosen, on one corpus; returns the raw figures."""
    args, tools, runner, coffer, runs = c.args, c.tools, c.runner, c.coffer, c.runs
    raw = {t: {ph: [] for ph in PHASES} for t in tools}
    raw_limits = {"find": [], "read": [], "cp": []}
    cache_bytes = {t: [] for t in tools}
    verified = {}
    gc_verified = []
    change = {}
    raw_mount = {t: [] for t in tools} if c.do_mount else {}
    raw_source = []
    ceiling = None

    def short(ph, first):  # measure this phase SHORT_SAMPLES times in this run?
        return runs < SHORT_SAMPLES and ph in c.repeated and first["time_s"] < SHORT_S

    def warm_corpus():
        # The corpus read into the page cache right before each first backup, not once
        # for all: a VM whose host pages out what has not been read for a minute (as
        # DAMON's reclaim on the 2-core VM does) would otherwise leave it on disk for
        # the tool that runs after the ceilings, and in memory for the next ones.
        if not runner.cold:
            subprocess.run(read_all_cmd(corpus.path))

    def backup_sample(tool, label):
        s, rss, cpu, size = tool.backup(label)
        return {"time_s": s, "rss_kib": rss, "cpu_s": cpu, "repo_bytes": size,
                "serve_rss_kib": tool.serve_rss_kib}

    want = None  # the changed corpus's manifest: the first run checks the restores
    for run_no in range(1, runs + 1):
        log(f"=== " + (f"corpus {corpus.label}: " if c.several else "")
            + f"run {run_no}/{runs} ===")
        corpus.ensure_base()
        if corpus.label == "generated":
            corpus.ensure_big_file(args.big_file)
        if "limits" in c.only:
            for k, v in measure_limits(runner, corpus.path).items():
                raw_limits[k].append(v)
        if c.do_ceiling and ceiling is None:
            ceiling = measure_ceiling(corpus, args.quick)
        objs = {t: Tool(t, runner, coffer, corpus.path, run_no) for t in tools}
        for t, tool in objs.items():
            tool.init()
            warm_corpus()
            raw[t]["first"].append(backup_sample(tool, "first"))
            if c.do_verify:  # one snapshot: the logical data is the corpus
                raw[t]["verify"].append(tool.verify())
                if short("verify", raw[t]["verify"][-1]):
                    raw[t]["verify"] += [tool.verify() for _ in range(SHORT_SAMPLES - 1)]
            if not c.do_backup:
                continue
            raw[t]["unchanged"].append(backup_sample(tool, "unchanged"))
            if short("unchanged", raw[t]["unchanged"][-1]):
                raw[t]["unchanged"] += [backup_sample(tool, "unchanged")
                                        for _ in range(SHORT_SAMPLES - 1)]
        # A short first backup is measured again into new repositories, the tools
        # taking turns, so that no tool's samples all fall in one slow stretch of a
        # shared machine.
        again = [t for t in objs if short("first", raw[t]["first"][-1])]
        for sample in range(2, SHORT_SAMPLES + 1):
            for t in again:
                fresh = Tool(t, runner, coffer, corpus.path, run_no,
                             home=os.path.join(WORK, f"{t}-run{run_no}-first{sample}"))
                fresh.init()
                warm_corpus()
                raw[t]["first"].append(backup_sample(fresh, "first"))  # leaves no server
                remove_tree(fresh.home)
        if tools and (c.do_backup or c.do_gc):
            change = corpus.apply_change()
            for t, tool in objs.items():
                raw[t]["changed"].append(backup_sample(tool, "changed"))
        if tools and c.do_backup:
            if want is None:
                log("hashing the changed corpus to check the restores")
                want = tree_manifest(corpus.path)
            for t, tool in objs.items():
                target = os.path.join(WORK, f"restore-{t}")
                remove_tree(target)
                s, rss, cpu = tool.restore(target)
                raw[t]["restore"].append({"time_s": s, "rss_kib": rss, "cpu_s": cpu,
                                          "serve_rss_kib": tool.serve_rss_kib})
                if t not in verified:
                    got = tree_manifest(target + corpus.path)
                    verified[t] = got == want
                    if got != want:
                        diff = sorted(set(got.items()) ^ set(want.items()))[:5]
                        log(f"WARNING: {t} restored a tree that differs from the corpus: {diff}")
                # Many threads: restic preallocates every file, so freeing them is slow.
                remove_tree(target)
        # With --quick the mount phases are measured once per tool, in the first run.
        if c.do_mount and tools and (run_no == 1 or not args.quick):
            big_rel = largest_file(corpus.path)
            if corpus.tree:  # not for one file alone (biglibs)
                raw_source.append(measure_source_walks(runner, corpus.path))
            for t, tool in objs.items():
                raw_mount[t].append(measure_mount(tool, runner, corpus.path, big_rel,
                                                  c.fio_s))
        if c.do_gc:
            # forget every snapshot but the last, then free the space; a sample measured
            # again runs on copies of the repository (gc_on_copies).
            for t, tool in objs.items():
                n, i = 1, 0
                while i < n:
                    work = tool.clone(f"gc{i}") if c.gc_on_copies else tool
                    f, g = work.forget(), work.gc()
                    raw[t]["forget"].append(f)
                    raw[t]["gc"].append(g)
                    raw[t]["forget_gc"].append({"time_s": f["time_s"] + g["time_s"],
                                                "cpu_s": f["cpu_s"] + g["cpu_s"],
                                                "rss_kib": max(f["rss_kib"], g["rss_kib"])})
                    if t == "coffer" and i == 0:
                        gc_verified.append(coffer_verify_ok(work))
                    if work is not tool:
                        remove_tree(work.home)
                    if i == 0 and c.gc_on_copies and short("forget_gc", raw[t]["forget_gc"][-1]):
                        n = SHORT_SAMPLES
                    i += 1
        for t, tool in objs.items():
            cache_bytes[t].append(tool.cache_size())
            if t == "coffer":
                stop_coffer_serve(tool.repo)
            remove_tree(tool.home)
        c.load.append(os.getloadavg())
    return {"raw": raw, "limits": raw_limits, "cache_bytes": cache_bytes,
            "verified": verified, "gc_verified": gc_verified, "change": change,
            "mount": raw_mount, "source": raw_source, "ceiling": ceiling}
