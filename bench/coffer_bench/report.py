"""The report: medians, ratios and targets of each corpus, the markdown report, and the
result files in bench/results."""

import json
import os
import statistics

from .settings import (BACKUP_PHASES, MANY_BORG_CHUNKER, MANY_CHUNK_SIZES, PHASES,
                       PHASE_TITLES, RESULTS, ROOT, SHORT_S, SHORT_SAMPLES, TOOLS)
from .util import log
from .formats import faster, fmt_faster, fmt_mb, fmt_mbs, fmt_mib, fmt_ratio, fmt_s
from .corpus import count_folders
from .limits import CEILING_FIGS
from .mount import MOUNT_FIGS, evaluate_mount_targets, mount_ratio, mount_report


# Rows of the main table per phase: (label, key, formatter). Keys starting with "_" are
# computed in report().
CPU_ROW = ("CPU (user+sys; coffer: client + server)", "cpu_s", fmt_s)
BASE_ROWS = [("time", "time_s", fmt_s), CPU_ROW, ("peak RSS", "rss_kib", fmt_mib)]
# Phases whose coffer command started its own server (Tool.run).
SERVED_ROWS = BASE_ROWS + [("peak RSS of `coffer serve`", "serve_rss_kib", fmt_mib)]
PHASE_ROWS = {
    "first": SERVED_ROWS + [("repo size", "repo_bytes", fmt_mb),
                            ("throughput (corpus MB / time)", "_mbs", fmt_mbs),
                            ("throughput / CPU ceiling, 1 core", "_ceil1", fmt_ratio),
                            ("throughput / CPU ceiling, all cores", "_ceilN", fmt_ratio)],
    "unchanged": SERVED_ROWS + [("repo size", "repo_bytes", fmt_mb)],
    "changed": SERVED_ROWS + [("repo size", "repo_bytes", fmt_mb)],
    "restore": SERVED_ROWS,
    "verify": [("time", "time_s", fmt_s),
               ("throughput (corpus MB / time)", "_mbs", fmt_mbs),
               CPU_ROW,
               ("peak RSS", "rss_kib", fmt_mib),
               ("peak RSS of `coffer serve`", "serve_rss_kib", fmt_mib),
               ("throughput / CPU ceiling, 1 core", "_ceil1", fmt_ratio),
               ("throughput / CPU ceiling, all cores", "_ceilN", fmt_ratio)],
    "forget": BASE_ROWS,
    "gc": [("time", "time_s", fmt_s),
           CPU_ROW,
           ("peak RSS", "rss_kib", fmt_mib),
           ("peak RSS of `coffer serve`", "serve_rss_kib", fmt_mib),
           ("repo size before", "repo_before_bytes", fmt_mb),
           ("repo size after", "repo_bytes", fmt_mb)],
    "forget_gc": [("time", "time_s", fmt_s), CPU_ROW, ("peak RSS", "rss_kib", fmt_mib)],
}
HIGHER_IS_BETTER = ("_mbs", "_ceil1", "_ceilN")
PIPELINE = {"first": "backup_pipeline", "verify": "verify_pipeline"}


def phase_value(med, corpus, ceiling, tool, ph, key):
    m = med[tool][ph]
    if not key.startswith("_"):
        return m.get(key)
    if not m.get("time_s"):
        return None
    mbs = corpus["bytes"] / 1e6 / m["time_s"]
    if key == "_mbs":
        return mbs
    if not ceiling or tool != "coffer":  # the ceilings are of coffer's primitives
        return None
    c = ceiling["mbs_1" if key == "_ceil1" else "mbs_all"][PIPELINE[ph]]
    return mbs / c if c else None


def fmt_change(change):
    """The change step's summary: "edited 60 files, ..., new bytes approx 1.5 MB"."""
    def one(k, v):
        if k.endswith("bytes_approx"):
            return f"{k.replace('_', ' ')} {v / 1e6:.1f} MB"
        if k.startswith("blocks"):
            return f"{k.replace('_', ' ')} {v} (64 KiB each)"
        return f"{k.replace('_', ' ')} {v} files"
    return ", ".join(one(k, v) for k, v in change.items())


def corpus_line(corpus):
    """What the report says of a corpus: its description and its change step."""
    return corpus["description"] + ("; change step: " + fmt_change(corpus["change"])
                                    if corpus.get("change") else "")


def report(meta, sections, many=None, many_targets=()):
    """The markdown report. With one corpus (the default) the layout of old: the corpus
    on a line of the header, then its figures; with more, a summary table and then a
    section per corpus, each with every figure, and the many-chunks case last."""
    tools = [t for t in TOOLS if t in meta["versions"]]
    single = len(sections) == 1
    L = []
    L.append(f"# Coffer benchmark — {meta['date']}")
    L.append("")
    L.append(f"- Command: `{meta['command']}`")
    L.append(f"- Machine: {meta['cores']} cores ({meta['cpu']}), {meta['memory_gib']:.1f} GiB "
             f"memory, {meta['kernel']}")
    if "load_average" in meta:
        la = meta["load_average"]
        L.append(f"- Load average (1, 5, 15 min) at the start: {la[0]:.1f}, {la[1]:.1f}, "
                 f"{la[2]:.1f}; at the end: "
                 + ", ".join(f"{x:.1f}" for x in meta["load_average_end"])
                 + f"; highest 1-min figure seen between runs: "
                 f"{meta['load_average_max_1min']:.1f} (other work shared the "
                 f"{meta['cores']} cores)")
    L.append(f"- Page cache: **{meta['cache_mode']}** "
             + ("(dropped before every measured command)" if meta['cache_mode'] == "cold"
                else "(not dropped; the corpus and repositories are read from memory)"))
    if meta["size"] == "quick":
        repeated = ", ".join(PHASE_TITLES[ph] for ph in meta["repeated_phases"])
        L.append(f"- Runs: {meta['runs']}, figures are medians"
                 + (f"; measured {SHORT_SAMPLES} times in the run if shorter than "
                    f"{SHORT_S:.0f} s: {repeated}; every other phase once"
                    if meta["runs"] < SHORT_SAMPLES else "")
                 + (f"; the mount phases once per tool (first run), with "
                    f"{meta['fio_runtime_s']} s fio runs" if meta.get("mount_samples") else "")
                 + f"; total bench time {meta['total_seconds'] / 60:.1f} min")
    else:
        L.append(f"- Runs: {meta['runs']}, figures are medians; a phase shorter than "
                 f"{SHORT_S:.0f} s is measured {SHORT_SAMPLES} times per run when there are "
                 f"fewer than {SHORT_SAMPLES} runs; total bench time "
                 f"{meta['total_seconds'] / 60:.1f} min")
    if single:
        L.append("- Corpus: " + corpus_line(sections[0]["corpus"]))
    else:
        L.append("- Corpora: " + ", ".join(
            f"`{x['name']}` ({x['corpus']['files']} file{'s' if x['corpus']['files'] != 1 else ''}"
            f", {x['corpus']['bytes'] / 1e6:.0f} MB)" for x in sections)
                 + "; a section each below")
    L.append("- Versions: " + "; ".join(f"{t}: {meta['versions'][t]}" for t in tools))
    L.append("- Settings: coffer repokey (Argon2id 64M/3), zstd 3; restic repository "
             "version 2, --compression auto; borg repokey-blake2, --compression zstd,3")
    L.append("")
    if single:
        s = sections[0]
        L += corpus_body(meta, tools, s, 2, many=many, extra_targets=many_targets)
        return "\n".join(L)
    L += summary_table(tools, sections)
    for s in sections:
        c = s["corpus"]
        L.append(f"## Corpus `{s['name']}`")
        L.append("")
        L.append(f"{c['origin']}: {corpus_line(c)}. In `{os.path.relpath(c['path'], ROOT)}`.")
        L.append("")
        L += corpus_body(meta, tools, s, 3)
        if s["restore_verified"]:
            L += [restore_line(s["restore_verified"]).strip(), ""]
    if many:
        L.append(many_report(many))
        if many_targets:
            L.append("Targets:")
            L.append("")
            for tg in many_targets:
                L.append(f"- **{tg['status']}** — {tg['target']}: {tg['actual']}")
            L.append("")
    return "\n".join(L)


def restore_line(verified):
    if not verified:
        return ""
    return "\nRestores checked against the corpus (size and SHA-1 of every file): " + \
        ", ".join(f"{t} {'identical' if ok else 'DIFFERENT'}" for t, ok in verified.items()) \
        + "\n"


def summary_table(tools, sections):
    """The main figures of every corpus side by side (each section has all of them)."""
    cmp = [t for t in ("restic", "borg") if t in tools and "coffer" in tools]
    L = ["## Summary by corpus", ""]
    hdr = ["Corpus", "Figure"] + tools + [f"coffer vs {t}" for t in cmp]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "---|" * len(hdr))
    for s in sections:
        med, mm = s["median"], s["mount"]["median"]
        src = s["mount"].get("source", {}).get("median") or {}

        def row(label, vals, f, kind):
            if all(vals.get(t) is None for t in tools):
                return
            cells = [s["name"], label] + [f(vals.get(t)) for t in tools]
            for o in cmp:
                a, b = vals.get("coffer"), vals.get(o)
                if kind == "time":
                    cells.append(fmt_faster(faster(b, a)))
                elif kind in ("ratio", "count"):
                    cells.append("")
                else:
                    cells.append(fmt_ratio(a / b if a is not None and b else None))
            L.append("| " + " | ".join(cells) + " |")

        for ph in ("first", "unchanged", "changed", "restore", "verify", "forget_gc"):
            row(PHASE_TITLES[ph], {t: med[t][ph].get("time_s") for t in tools if t in med},
                fmt_s, "time")
        row("repo size after the three backups",
            {t: med[t]["changed"].get("repo_bytes") for t in tools if t in med}, fmt_mb, "size")
        row("peak RSS, highest of the backup phases",
            {t: max((med[t][ph].get("rss_kib") or 0 for ph in BACKUP_PHASES), default=0)
             or None for t in tools if t in med}, fmt_mib, "size")
        row("mount: `ls -lR` of the snapshot", {t: mm[t].get("lslr_s") for t in mm}, fmt_s,
            "time")
        if src.get("find_s"):
            row("mount: `ls -lR` / `find -ls` of the source copy",
                {t: mm[t]["lslr_s"] / src["find_s"] for t in mm if mm[t].get("lslr_s")},
                fmt_ratio, "ratio")
        row("mount: `cat` of the largest file, first read",
            {t: mm[t].get("cat_first_mbs") for t in mm}, fmt_mbs, "rate")
    L.append("")
    L.append("Times as coffer's speed-up over the other tool; sizes and RSS as coffer's "
             "figure / the other's; MB/s as coffer's / the other's (above 1 is better).")
    L.append("")
    return L


def corpus_body(meta, tools, s, level, many=None, extra_targets=()):
    """The figures of one corpus: the table of every phase, the notes, the ceilings,
    (many: the many-chunks case, where the one-corpus report has it), the machine
    limits, the mount and the targets."""
    med, limits, corpus, targets = s["median"], s["limits"], s["corpus"], s["targets"]
    ceiling, gc_verified = s["ceiling"], s["gc_then_verify_intact"]
    mount_md = s.get("mount_md", "")
    split = s.get("targets_split", len(targets))
    L = []
    if tools:
        hdr = ["Phase", "Figure"] + tools
        cmp = [t for t in ("restic", "borg") if t in tools and "coffer" in tools]
        hdr += [f"coffer vs {t}" for t in cmp]
        L.append("| " + " | ".join(hdr) + " |")
        L.append("|" + "---|" * len(hdr))
        for ph in PHASES:
            if all(not med[t][ph] for t in tools):
                continue
            ns = {t: med[t][ph].get("samples", 0) for t in tools}
            title = PHASE_TITLES[ph]
            if set(ns.values()) != {meta["runs"]}:
                title += (f" ({ns[tools[0]]} samples)" if len(set(ns.values())) == 1 else
                          " (samples: " + ", ".join(f"{t} {n}" for t, n in ns.items()) + ")")
            for label, key, f in PHASE_ROWS[ph]:
                if key.startswith("_ceil") and not ceiling:
                    continue
                vals = {t: phase_value(med, corpus, ceiling, t, ph, key) if med[t][ph] else None
                        for t in tools}
                if all(v is None for v in vals.values()):
                    continue
                cells = [title, label] + [f(vals[t]) for t in tools]
                for o in cmp:
                    a, b = vals["coffer"], vals[o]
                    if key.startswith("_ceil"):
                        cells.append("")
                    elif key in ("time_s", "cpu_s"):
                        cells.append(fmt_faster(faster(b, a)))
                    elif key == "_mbs":
                        cells.append(fmt_ratio(a / b if a is not None and b else None))
                    else:
                        cells.append(fmt_ratio(a / b if a is not None and b else None))
                L.append("| " + " | ".join(cells) + " |")
        cells = ["after all", "client cache outside the repo"]
        cells += [fmt_mb(med[t].get("cache_bytes")) for t in tools] + ["" for _ in cmp]
        L.append("| " + " | ".join(cells) + " |")
        L.append("")
        L.append("Ratios: times (wall and CPU) as coffer's speed-up over the other tool (its "
                 "time / coffer's time); throughput, RSS and sizes as coffer's figure / the "
                 "other's (for throughput above 1 is better, for RSS and sizes below 1). "
                 "Every time includes the tool's start-up and its passphrase key derivation; "
                 "every coffer command starts its own `coffer serve` (none is left running "
                 "from the command before), whose CPU is in coffer's CPU figure and whose "
                 "peak RSS has a row of its own; the repository's size is measured after "
                 "that server stopped.")
        L.append("")
        if any(med[t]["verify"] for t in tools) or any(med[t]["gc"] for t in tools):
            L.append("Verify: `coffer verify` (every object of every snapshot read back, "
                     "decrypted, decompressed and hashed again), `restic check --read-data`, "
                     "`borg check --verify-data`, right after the first backup (one snapshot, "
                     "so the throughput is the corpus size over the time). Forget: `coffer "
                     "prune --keep-last 1`, `restic forget --keep-last 1`, `borg prune "
                     "--keep-last 1` after all backups; then `coffer gc`, `restic prune "
                     "--max-unused 0`, `borg compact --threshold 0` (so that all three free "
                     "all the unused data, as coffer gc does; borg's prune already drops "
                     "the chunks' references, "
                     "restic's and coffer's forget only the snapshot records, so compare the "
                     "sum too). "
                     + ("Each forget + gc sample ran on a fresh copy of the repository and "
                        "client cache. " if meta.get("gc_on_copies") else "")
                     + "coffer's verify and gc "
                     "run against a `coffer serve` the bench starts for them alone "
                     "(`--foreground` under /usr/bin/time), so its peak RSS is theirs; its "
                     "CPU is added to coffer's." +
                     ("" if not gc_verified else
                      " After gc, `coffer verify` found the kept snapshot "
                      + ("intact." if all(gc_verified) else "**damaged**.")))
            L.append("")
    if ceiling:
        L.append(f"{'#' * level} Machine ceilings")
        L.append("")
        L.append(f"`bench/ceiling` (bench/ceiling.cc, g++ -O2, libsodium and libzstd as "
                 f"installed) on a {ceiling['sample_bytes'] / 1e6:.0f} MB sample of the "
                 f"corpus (the same share of every file) in {ceiling['chunk_bytes'] >> 10} "
                 f"KiB chunks, which zstd -3 shrinks to {ceiling['stored_ratio']:.2f} of "
                 f"their size; MB/s of plaintext, the best of {ceiling.get('tries', 1)} tries "
                 f"of {ceiling['seconds_per_figure']:g} s each, 1 thread and "
                 f"{ceiling['threads']} taking turns. No tool doing this work can go faster "
                 f"on this machine. Where {ceiling['threads']} threads are not about "
                 f"{ceiling['threads']}x one, the other cores were busy with other work.")
        L.append("")
        L.append(f"| Operation | 1 core | {ceiling['threads']} threads |")
        L.append("|---|---|---|")
        for k, label in CEILING_FIGS:
            L.append(f"| {label} | {fmt_mbs(ceiling['mbs_1'][k])} | "
                     f"{fmt_mbs(ceiling['mbs_all'][k])} |")
        L.append("")
        L.append("The throughput / ceiling rows above divide coffer's MB/s by the backup "
                 "or verify pipeline figure (restic uses SHA-256 and AES-256 with "
                 "Poly1305, borg keyed BLAKE2b-256 and AES-256-CTR: other primitives, so "
                 "no ratio is given for them). Coffer's backup also opens every object it "
                 "seals again to check it (decrypt + decompress), so its own CPU work per "
                 "byte is about the two pipelines together.")
        L.append("")
    if many:
        L.append(many_report(many))
    if limits:
        b = corpus["bytes"]
        L.append("Machine limits on the same corpus:")
        L.append("")
        L.append("| Operation | time | CPU (user+sys) | peak RSS | throughput |")
        L.append("|---|---|---|---|---|")
        names = {"find": "`find CORPUS -ls > /dev/null`",
                 "read": "`tar cf - CORPUS \\| cat > /dev/null`",
                 "cp": "`cp -a CORPUS COPY`"}
        for k in ("find", "read", "cp"):
            s, rss = limits[k]["time_s"], limits[k]["rss_kib"]
            thr = f"{b / 1e6 / s:.0f} MB/s" if k != "find" and s > 0 else \
                f"{corpus['files'] / s:.0f} files/s" if s > 0 else "—"
            L.append(f"| {names[k]} | {fmt_s(s)} | {fmt_s(limits[k]['cpu_s'])} | "
                     f"{fmt_mib(rss)} | {thr} |")
        L.append("")
    if mount_md:
        L.append(mount_md)
    targets = list(targets[:split]) + list(extra_targets) + list(targets[split:])
    if targets:
        L.append("Targets:")
        L.append("")
        for tg in targets:
            L.append(f"- **{tg['status']}** — {tg['target']}: {tg['actual']}")
        L.append("")
    return L


def many_report(m):
    c, b = m.get("coffer"), m.get("borg")
    tools = [t for t in ("coffer", "borg") if m.get(t)]
    L = ["## Garbage collection with many chunks", ""]
    L.append(f"Incompressible data in {m['files']} files, backed up by `coffer init "
             f"--chunk-size {','.join(map(str, MANY_CHUNK_SIZES))}` (mean chunk "
             f"{m['mean_chunk_bytes']:.0f} B) and by borg with `--chunker-params "
             f"{MANY_BORG_CHUNKER}`; then {m['swapped_files']} files replaced by other "
             f"random data and backed up again; forget keeps the second snapshot, gc "
             f"deletes what only the first used. coffer at ~{m['target_chunks']:,} chunks "
             f"({m['data_bytes'][str(m['target_chunks'])] / 1e6:.0f} MB) and, for the "
             f"slopes, at ~{m['small_chunks']:,}; borg (whose backup is slower) at "
             f"~{m['small_chunks']:,} only. restic is not run: its chunk sizes are fixed "
             f"(512 KiB-8 MiB), so a million chunks would take ~1 TB.")
    if m["target_chunks"] < 1_000_000 or b:
        L.append("Per-million figures below a million chunks are extrapolated linearly.")
    L.append("")
    L.append("| Figure | " + " | ".join(tools) + " |")
    L.append("|---|" + "---|" * len(tools))

    def row(label, key, f):
        vals = [m[t].get(key) for t in tools]
        if all(v is None for v in vals):
            return
        L.append(f"| {label} | " + " | ".join(f(v) for v in vals) + " |")

    num = lambda v: "—" if v is None else f"{v:,.0f}"  # noqa: E731
    bpo = lambda v: "—" if v is None else f"{v:.1f} B"  # noqa: E731
    row("chunks stored before gc", "chunks_stored", num)
    row("objects examined by gc", "objects_examined", num)
    row("objects deleted by gc", "objects_deleted", num)
    row("first backup", "first_backup_s", fmt_s)
    row("first backup, chunks per second", "first_backup_chunks_per_s", num)
    row("second backup", "second_backup_s", fmt_s)
    row("forget (coffer prune / borg prune)", "forget_s", fmt_s)
    row("forget peak RSS", "forget_rss_kib", fmt_mib)
    row("gc (coffer gc / borg compact)", "gc_s", fmt_s)
    row("gc CPU (coffer: client + server)", "gc_cpu_s", fmt_s)
    row("gc per million stored chunks", "gc_s_per_million", fmt_s)
    row("gc per million, slope between the two sizes", "gc_slope_s_per_million", fmt_s)
    row("forget + gc per million stored chunks", "forget_gc_s_per_million", fmt_s)
    row("gc client peak RSS", "gc_client_rss_kib", fmt_mib)
    row("`coffer serve` RSS when ready (before gc, every tree read once)",
        "gc_serve_ready_rss_kib", fmt_mib)
    row("`coffer serve` peak RSS during gc", "gc_serve_rss_kib", fmt_mib)
    row("server growth per stored object ((peak - ready) / objects)",
        "serve_growth_bytes_per_object", bpo)
    row("server growth slope per object between the two sizes",
        "serve_slope_bytes_per_object", bpo)
    row("client peak RSS slope per object between the two sizes",
        "client_slope_bytes_per_object", bpo)
    row("repo size before gc", "repo_before_bytes", fmt_mb)
    row("repo size after gc", "repo_after_bytes", fmt_mb)
    row("`coffer verify` after gc (found intact)", "verify_s", fmt_s)
    row("`coffer verify`, chunks per second", "verify_chunks_per_s", num)
    row("`coffer verify` client peak RSS", "verify_client_rss_kib", fmt_mib)
    row("`coffer verify` server peak RSS", "verify_serve_rss_kib", fmt_mib)
    L.append("")
    if c:
        sm = c.get("small")
        L.append(f"Per million stored chunks, coffer's gc took {c['gc_s_per_million']:.0f} s "
                 f"(at {c['objects_examined']:,} objects). The server peaked at "
                 f"{c['gc_serve_rss_kib'] / 1024:.0f} MiB"
                 + (f", {c['gc_serve_ready_rss_kib'] / 1024:.0f} MiB of it before gc began"
                    if c.get("gc_serve_ready_rss_kib") else "")
                 + (f" (at ~{m['small_chunks']:,} chunks: {sm['gc_serve_rss_kib'] / 1024:.0f} "
                    f"MiB)" if sm else "")
                 + f"; the client at {c['gc_client_rss_kib'] / 1024:.0f} MiB, 64 MiB of it "
                 f"the passphrase's Argon2id.")
        L.append("")
    return "\n".join(L)


def evaluate_targets(med):
    out = []

    def t(ph, tool):
        return med.get(tool, {}).get(ph, {}).get("time_s")

    def speed(target, ph, other, need):
        x = faster(t(ph, other), t(ph, "coffer"))
        status = "n/a" if x is None else ("met" if x >= need else "not met")
        out.append({"target": target, "status": status,
                    "actual": fmt_faster(x), "value": x, "need": need})

    speed("first backup >= 1.5x faster than restic", "first", "restic", 1.5)
    speed("first backup >= 3x faster than borg", "first", "borg", 3.0)
    speed("unchanged re-backup >= 3x faster than restic", "unchanged", "restic", 3.0)
    speed("full restore >= 1.25x faster than restic", "restore", "restic", 1.25)
    c = med.get("coffer", {}).get("changed", {}).get("repo_bytes")
    r = med.get("restic", {}).get("changed", {}).get("repo_bytes")
    ok = None if c is None or r is None else c <= r
    out.append({"target": "repository (after all three backups) no larger than restic's",
                "status": "n/a" if ok is None else ("met" if ok else "not met"),
                "actual": "—" if ok is None else f"{fmt_mb(c)} vs {fmt_mb(r)} ({c / r:.2f}x)",
                "value": None if ok is None else c / r, "need": 1.0})
    worst = []
    for tool in ("coffer", "restic"):
        vals = [med.get(tool, {}).get(ph, {}).get("rss_kib") for ph in BACKUP_PHASES]
        worst.append(max(vals) if tool in med and None not in vals else None)
    ok = None if None in worst else worst[0] < worst[1]
    per = []
    if ok is not None:
        per = [ph for ph in BACKUP_PHASES
               if med["coffer"][ph]["rss_kib"] >= med["restic"][ph]["rss_kib"]]
    out.append({"target": "peak RSS below restic's (highest over the four phases)",
                "status": "n/a" if ok is None else ("met" if ok else "not met"),
                "actual": "—" if ok is None else
                f"{fmt_mib(worst[0])} vs {fmt_mib(worst[1])}"
                + (f"; not below restic in: {', '.join(per)}" if per else
                   "; below restic in every phase"),
                "value": None if ok is None else worst[0] / worst[1], "need": 1.0})
    return out


def summarize_corpus(corpus, r, c):
    """Medians, ratios and targets of one corpus's raw figures: its section of the
    report and of the JSON."""
    tools, raw = c.tools, r["raw"]
    med = {}
    for t in tools:
        med[t] = {}
        for ph in PHASES:
            rs = raw[t][ph]
            med[t][ph] = {k: statistics.median(x[k] for x in rs)
                          for k in (rs[0] if rs else ())
                          if all(isinstance(x.get(k), (int, float)) and
                                 not isinstance(x.get(k), bool) for x in rs)}
            if rs:
                med[t][ph]["samples"] = len(rs)
        med[t]["cache_bytes"] = statistics.median(r["cache_bytes"][t])
    limits = {k: {"time_s": statistics.median(x[0] for x in v),
                  "rss_kib": statistics.median(x[1] for x in v),
                  "cpu_s": statistics.median(x[2] for x in v)}
              for k, v in r["limits"].items() if v}
    targets = evaluate_targets(med)
    split = len(targets)  # the mount's targets follow (the one-corpus report puts the
    # many-chunks case's between)
    mmed = {}
    for t, rs in r["mount"].items():
        if rs:
            mmed[t] = {k: (None if any(x[k] is None for x in rs) else
                           statistics.median(x[k] for x in rs))
                       for k, _, _ in MOUNT_FIGS}
            mmed[t]["file"], mmed[t]["file_bytes"] = rs[-1]["file"], rs[-1]["file_bytes"]
    if mmed:
        targets += evaluate_mount_targets(mmed, corpus.tree)
    source = None
    if r["source"]:
        source = {k: statistics.median(x[k] for x in r["source"])
                  for k in ("find_s", "lslr_s", "entries")}
    info = dict(corpus.info)
    info.setdefault("dirs", count_folders(corpus.path))
    description = corpus.describe()
    if c.several and corpus.label == "generated":
        description += f", {info['dirs']} folders"
    corpus_info = dict(info, name=corpus.label, description=description,
                       origin="Generated by bench/run (seeded: the same on every run)"
                       if corpus.label == "generated" else "Real data",
                       change=r["change"], path=corpus.path)
    ratios = {}
    if "coffer" in med:
        for o in ("restic", "borg"):
            if o not in med:
                continue
            ratios[f"coffer_vs_{o}"] = {}
            for ph in PHASES:
                a, b = med["coffer"][ph], med[o][ph]
                if not a or not b:
                    continue
                x = faster(b["time_s"], a["time_s"])
                d = {"times_faster": x, "time": fmt_faster(x),
                     "cpu_times_less": faster(b["cpu_s"], a["cpu_s"]),
                     "rss_ratio": a["rss_kib"] / b["rss_kib"]}
                if "repo_bytes" in a and "repo_bytes" in b:
                    d["repo_size_ratio"] = a["repo_bytes"] / b["repo_bytes"]
                if ph in ("first", "verify"):
                    d["throughput_ratio"] = b["time_s"] / a["time_s"]
                ratios[f"coffer_vs_{o}"][ph] = d
    if mmed and "coffer" in mmed:
        for o in ("restic", "borg"):
            if o in mmed:
                ratios.setdefault(f"coffer_vs_{o}", {})["mount"] = {
                    k: mount_ratio(kind, mmed["coffer"][k], mmed[o][k])
                    for k, _, kind in MOUNT_FIGS if kind != "count"}
    mount_doc = {"median": mmed, "runs_raw": r["mount"]}
    if source:
        mount_doc["source"] = {
            "median": source, "runs_raw": r["source"],
            "lslr_over_source_find": {t: mmed[t]["lslr_s"] / source["find_s"]
                                      for t in mmed if mmed[t].get("lslr_s")
                                      and source["find_s"]}}
    mount_md = ""
    if mmed:
        first = next(iter(mmed.values()))
        mount_md = mount_report(mmed, (first["file"], first["file_bytes"]),
                                c.runner.can_drop and os.geteuid() == 0, c.fio_s,
                                max(len(rs) for rs in r["mount"].values()), source=source,
                                level=3 if c.several else 2)
    return {"name": corpus.label, "corpus": corpus_info, "median": med, "runs_raw": raw,
            "limits": limits, "limits_raw": r["limits"], "ratios": ratios,
            "targets": targets, "targets_split": split, "restore_verified": r["verified"],
            "mount": mount_doc, "mount_md": mount_md, "ceiling": r["ceiling"],
            "gc_then_verify_intact": r["gc_verified"]}


def write_results(meta, sections, many_res, many_summary, many_targets, names):
    """The markdown report on stdout and, with its figures as JSON, in
    bench/results/NAME.{md,json} for each of names."""
    md = report(meta, sections, many=many_summary, many_targets=many_targets)
    many_doc = {"summary": many_summary, "raw": many_res}
    if len(sections) == 1:
        # One corpus (the default): its figures at the top level, as they always were.
        s = sections[0]
        md += restore_line(s["restore_verified"])
        doc = {"meta": meta, "corpus": s["corpus"], "median": s["median"],
               "runs_raw": s["runs_raw"], "limits": s["limits"],
               "limits_raw": s["limits_raw"], "ratios": s["ratios"],
               "targets": s["targets"][:s["targets_split"]] + many_targets
               + s["targets"][s["targets_split"]:],
               "restore_verified": s["restore_verified"], "mount": s["mount"],
               "ceiling": s["ceiling"], "many_chunks": many_doc,
               "gc_then_verify_intact": s["gc_then_verify_intact"]}
    else:
        doc = {"meta": meta,
               "corpora": {s["name"]: {k: v for k, v in s.items()
                                       if k not in ("name", "mount_md", "targets_split")}
                           for s in sections},
               "many_chunks": dict(many_doc, targets=many_targets)}
    for name in names:
        with open(os.path.join(RESULTS, name + ".md"), "w") as f:
            f.write(md)
        with open(os.path.join(RESULTS, name + ".json"), "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    print(md)
    log(f"done in {meta['total_seconds'] / 60:.1f} min; results in "
        f"{os.path.relpath(RESULTS, ROOT)}/" + " and ".join(
            f"{n}.md" for n in names) + " (and .json)")

