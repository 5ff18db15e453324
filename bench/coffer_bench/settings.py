"""Paths, tool, phase and corpus names, seeds, sample counts: the constants every part of
the benchmark shares."""

import os

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/
ROOT = os.path.dirname(BENCH)
WORK = os.path.join(BENCH, "work")
RESULTS = os.path.join(BENCH, "results")
TOOLS = ("coffer", "restic", "borg")
# Phase selectors: with --only, each runs just the phases it needs (see benchmark.run).
PHASE_SELECTORS = ("mount", "verify", "gc", "manychunks")
# The Proxmox VE guest phases (bench/proxmox.py) run only when named: they need root (loop
# mounts) and their data comes from this machine's /usr.
# The offsite-copy phases (bench/sync.py) too: they need s3rver and root (dropping caches).
ONLY_NAMES = TOOLS + ("limits",) + PHASE_SELECTORS + ("proxmox", "sync")
DEFAULT_ONLY = [x for x in ONLY_NAMES if x not in ("proxmox", "sync")]
# --corpus: the generated tree (the default), a copy of this machine's system folders, one
# big file of its shared libraries (the last two: bench/real_corpus.py).
CORPORA = ("generated", "system", "biglibs")
PASSPHRASE = "coffer-bench-passphrase"
SEED = 20261130
# Bump when the corpus generator changes, so an old corpus in bench/work is regenerated.
CORPUS_VERSION = 5
T0 = 1_700_000_000  # mtime of the generated corpus (2023-11-14)
T1 = T0 + 86_400 * 30  # mtime of what the change step touches
BIG_FILE = "large/big.img"  # --big-file
FIRST_READS = 3  # the mount's first read of the large file: the median of this many
BIG_SIZE = 1 << 30

BACKUP_PHASES = ("first", "unchanged", "changed", "restore")
PHASES = BACKUP_PHASES + ("verify", "forget", "gc", "forget_gc")
PHASE_TITLES = {
    "first": "first backup",
    "unchanged": "unchanged re-backup",
    "changed": "backup after 1% change",
    "restore": "full restore",
    "verify": "verify all data",
    "forget": "forget all but the last snapshot",
    "gc": "free the space (gc / prune / compact)",
    "forget_gc": "forget + free the space, together",
}
# A phase whose first measurement takes less than this is measured 3 times per run when
# --runs is below 3, so that its figure is a median too: at full size the phases of
# REPEATED (those that are short there); with --quick (one run by default, where every
# phase is short) only the unchanged re-backup, the shortest phase with a target: more
# samples of the others would not fit in the two minutes a quick run is meant to take.
SHORT_S = 10.0
SHORT_SAMPLES = 3
REPEATED = ("first", "unchanged", "verify", "forget_gc")
QUICK_REPEATED = ("unchanged",)
# fio's time-based runtime per random-read figure of the mount phases, in seconds.
FIO_S = 20
QUICK_FIO_S = 2
# The large-count case (--many-chunks): chunk sizes small enough that ~1.1 GB of
# incompressible data makes about a million chunks.  borg gets the closest buzhash
# parameters (min 2^9, mask 10 bits, max 2^13: borg wants max above its 4095-byte
# window); restic's chunker sizes are fixed.
MANY_CHUNK_SIZES = (512, 1024, 4096)
MANY_MEAN_CHUNK = 1216  # bytes, what those sizes give on random data (measured again per run)
MANY_BORG_CHUNKER = "buzhash,9,13,10,4095"
MANY_FILES = 64
