"""Coffer's benchmark against restic and borg: what bench/run runs (see bench/README.md).

The modules, each building on those before it: settings (paths, names, constants), util
(log, die, sh, remove_tree), formats (how figures are written), measure (timing commands,
/proc), tools (coffer, restic and borg: packages, build, commands, servers), corpus (the
generated corpus, make_corpus), limits (machine limits and ceilings), manychunks (gc of a
repository with about a million chunks), mount (the mount phases), report (medians,
ratios, targets, the markdown and JSON), phases (every phase chosen, on one corpus) and
benchmark (one invocation).

bench/real_corpus.py, bench/sync.py and bench/proxmox.py are handed this package as
`bench`: below are the names they use.
"""

from .settings import BENCH, BIG_FILE, BIG_SIZE, PASSPHRASE, RESULTS, SEED, T0, WORK
from .util import die, log, remove_tree
from .measure import Runner, drop_caches, du, timed
from .tools import Tool, stop_coffer_serve, stop_servers, tool_version
from .corpus import keep_original, make_corpus, move_aside, revert_tree_change, write_big_file
from .mount import ACTIVE_MOUNTS, unmount, warm_repository

__all__ = ["ACTIVE_MOUNTS", "BENCH", "BIG_FILE", "BIG_SIZE", "PASSPHRASE", "RESULTS", "SEED",
           "T0", "WORK", "Runner", "Tool", "die", "drop_caches", "du", "keep_original", "log",
           "make_corpus", "move_aside", "remove_tree", "revert_tree_change", "stop_coffer_serve",
           "stop_servers", "timed", "tool_version", "unmount", "warm_repository", "write_big_file"]
