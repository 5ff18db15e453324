"""One invocation of bench/run: what --only chooses, the corpora, the many-chunks case and
the result files; or the Proxmox VE guest phases (bench/proxmox.py) or the offsite-copy
phases (bench/sync.py) alone."""

import argparse
import datetime
import os
import platform
import shlex
import sys
import time

from .settings import (BENCH, DEFAULT_ONLY, FIO_S, PHASE_SELECTORS, QUICK_FIO_S,
                       QUICK_REPEATED, REPEATED, RESULTS, ROOT, SHORT_SAMPLES, TOOLS, WORK)
from .util import die, log, sh
from .measure import Runner
from .tools import build_coffer, ensure_packages, private_copy, stop_servers, tool_version
from .corpus import make_corpus
from .manychunks import (evaluate_many_targets, many_chunk_mean, measure_many_chunks,
                         summarize_many)
from .mount import COFFER_BIN
from .report import summarize_corpus, write_results
from .phases import run_corpus


def run(args):
    """bench/run with the options parsed: every phase chosen, on every corpus, then the
    result files."""
    started = time.monotonic()
    runs = args.runs or 1
    if runs < 1:
        die("--runs must be at least 1")
    only = args.only or list(DEFAULT_ONLY)
    tools = [t for t in TOOLS if t in only]
    corpus_names = list(dict.fromkeys(args.corpus or ["generated"]))
    if "proxmox" in only:
        run_proxmox(args, tools or list(TOOLS))
        return
    if "sync" in only:
        run_sync(args)
        return
    # A phase selector (--only mount/verify/gc/manychunks) runs just that phase and what
    # it needs (each tool's init and first backup; gc also the change step and the
    # backup after it), for the tools named, or all three. Tool names alone run the
    # backup phases, verify and gc. No --only: everything.
    selectors = [x for x in PHASE_SELECTORS if x in only]
    selective = args.only is not None and bool(selectors)
    if selective and not tools:
        tools = list(TOOLS)
    do_backup = not selective
    do_mount = "mount" in only
    do_verify = "verify" in only or (not selective and bool(tools))
    do_gc = "gc" in only or (not selective and bool(tools))
    many = args.many_chunks if args.many_chunks is not None else \
        (0 if args.quick else 1_000_000)
    do_many = "manychunks" in only and many > 0 and "coffer" in tools
    do_ceiling = "limits" in only or (bool(tools) and (do_backup or do_verify))
    mount_only = selective and selectors == ["mount"]  # for the result file names

    ensure_packages(tools, do_mount and bool(tools))
    coffer = None
    if "coffer" in tools:
        coffer = os.path.abspath(args.coffer) if args.coffer else build_coffer()
        if not os.access(coffer, os.X_OK):
            die(f"{coffer} is not an executable")
        coffer = private_copy(coffer)
    COFFER_BIN[0] = coffer
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)

    corpora = [make_corpus(name, args.quick) for name in corpus_names]
    runner = Runner(args.cold)
    ctx = argparse.Namespace(
        args=args, tools=tools, runner=runner, coffer=coffer, runs=runs, only=only,
        do_backup=do_backup, do_mount=do_mount, do_verify=do_verify, do_gc=do_gc,
        do_ceiling=do_ceiling, repeated=QUICK_REPEATED if args.quick else REPEATED,
        fio_s=QUICK_FIO_S if args.quick else FIO_S, load=[os.getloadavg()],
        # forget + gc changes the repository: to measure it more than once, every
        # sample runs on a fresh copy.
        gc_on_copies=runs < SHORT_SAMPLES and "forget_gc" in
        (QUICK_REPEATED if args.quick else REPEATED),
        several=len(corpora) > 1)
    if args.big_file and "generated" not in corpus_names:
        log("--big-file adds to the generated corpus only, which is not run")
    raws = [run_corpus(corpus, ctx) for corpus in corpora]
    load, repeated, fio_s = ctx.load, ctx.repeated, ctx.fio_s

    many_res = None
    if do_many:
        mean = many_chunk_mean(coffer, runner)
        try:
            many_res = measure_many_chunks(runner, coffer, tools, many, mean)
        except SystemExit:  # a failed command: keep what the other phases measured
            log("the many-chunks case failed; reporting the rest")
            stop_servers()
        load.append(os.getloadavg())

    for corpus in corpora:
        corpus.ensure_base()  # leave the base corpus for the next invocation

    sections = [summarize_corpus(corpus, r, ctx) for corpus, r in zip(corpora, raws)]
    many_summary = summarize_many(many_res, None) if many_res else None
    many_targets = evaluate_many_targets(many_summary) if many_summary else []

    mem = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) / 1024 / 1024
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    size = "quick" if args.quick else "full"
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": shlex.join(["bench/run"] + sys.argv[1:]),
        "cores": len(os.sched_getaffinity(0)), "cpu": cpu, "memory_gib": mem,
        "kernel": platform.platform(), "cache_mode": "cold" if args.cold and runner.can_drop
        else "warm", "runs": runs, "size": size, "corpora": corpus_names,
        "repeated_phases": list(repeated), "gc_on_copies": ctx.gc_on_copies and do_gc,
        "fio_runtime_s": fio_s,
        "mount_samples": max((len(rs) for r in raws for rs in r["mount"].values()), default=0),
        "versions": {t: tool_version(t, coffer) for t in tools},
        "total_seconds": time.monotonic() - started,
        "load_average": [round(x, 2) for x in load[0]],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "load_average_max_1min": round(max(x[0] for x in load + [os.getloadavg()]), 2),
    }
    # The copy by size is kept only for complete runs, so a partial one (--only) does not
    # replace it; corpora other than the default one name it too (quick-system-biglibs),
    # so the generated corpus's quick.md and full.md stay its own.
    tag = "" if corpus_names == ["generated"] else "-" + "-".join(corpus_names)
    names = ("latest",) + (() if args.only else (size + tag,))
    if mount_only and not args.quick:
        names += ("mount" + tag,)  # a full-size mount-only run: bench/results/mount.{md,json}
    elif selective and not args.quick:  # e.g. bench/results/only-verify-gc.{md,json}
        names += ("only-" + "-".join(selectors) + tag,)
    write_results(meta, sections, many_res, many_summary, many_targets, names)


def run_proxmox(args, tools):
    """--only proxmox: the Proxmox VE guest phases of bench/proxmox.py, alone."""
    others = [x for x in args.only if x not in TOOLS + ("proxmox",)]
    if others:
        die("--only proxmox runs on its own (with tool names to choose the tools), not with "
            + ", ".join(others))
    if args.cold or args.runs or args.big_file or args.many_chunks is not None or args.corpus:
        die("--only proxmox takes --quick, --coffer and tool names only (one sample, warm)")
    if os.geteuid() != 0:
        die("--only proxmox needs root: it makes and loop-mounts ext4 disk images")
    ensure_packages(tools, mount=False)
    missing = [p for p, path in (("zstd", "/usr/bin/zstd"), ("e2fsprogs", "/sbin/mkfs.ext4"),
                                 ("fdisk", "/sbin/sfdisk"), ("fuse3", "/usr/bin/fusermount3"))
               if not os.path.exists(path)]
    if missing:
        log("installing " + " ".join(missing) + " with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        sh(["apt-get", "install", "-y", "--no-install-recommends"] + missing, env=env)
    coffer = None
    if "coffer" in tools:
        coffer = private_copy(os.path.abspath(args.coffer) if args.coffer else build_coffer())
    COFFER_BIN[0] = coffer
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    sys.dont_write_bytecode = True  # no __pycache__ beside the script
    sys.path.insert(0, BENCH)
    import proxmox
    print(proxmox.run(sys.modules[__package__], args, tools, coffer))
    log(f"results in {os.path.relpath(RESULTS, ROOT)}/latest.md and "
        f"{'proxmox' if not args.quick else 'proxmox-quick'}.md (and .json)")


def run_sync(args):
    """--only sync: coffer sync to a folder and to S3 against cp -a and restic copy
    (bench/sync.py), alone; --corpus chooses the corpora (default: system)."""
    if [x for x in args.only if x != "sync"] or args.cold or args.runs or args.big_file \
            or args.many_chunks is not None:
        die("--only sync takes --quick, --corpus and --coffer only (one sample, cold)")
    if os.geteuid() != 0:
        die("--only sync needs root: every step starts with the page cache dropped")
    ensure_packages(["coffer", "restic"], mount=False)
    coffer = private_copy(os.path.abspath(args.coffer) if args.coffer else build_coffer())
    COFFER_BIN[0] = coffer
    os.makedirs(WORK, exist_ok=True)
    sys.dont_write_bytecode = True  # no __pycache__ beside the script
    sys.path.insert(0, BENCH)
    import sync
    print(sync.run(sys.modules[__package__], args, coffer))
    log(f"results in {os.path.relpath(RESULTS, ROOT)}/sync{'-quick' if args.quick else ''}.md "
        "(and .json)")
