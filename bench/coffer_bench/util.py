"""log, die, sh and remove_tree: how every part of the benchmark reports, stops, runs a
command and deletes a tree."""

import concurrent.futures
import os
import shutil
import subprocess
import sys
import time


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def die(msg):
    log("error: " + msg)
    sys.exit(1)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def remove_tree(path):
    """shutil.rmtree, with the files unlinked by many threads at once. Freeing a file's
    blocks can wait several milliseconds on the journal (with `discard` on a rate-limited
    virtual disk: ~25 s for the ~6,700 files of a quick restic restore, which preallocates
    them); concurrent unlinks share those waits (under a second)."""
    if not os.path.lexists(path):
        return
    if os.path.isdir(path) and not os.path.islink(path):
        files = [os.path.join(d, n) for d, dirs, names in os.walk(path)
                 for n in names + [x for x in dirs if os.path.islink(os.path.join(d, x))]]
        if len(files) > 64:
            def unlink(f):
                try:
                    os.unlink(f)
                except OSError:
                    pass  # rmtree below reports what is left
            with concurrent.futures.ThreadPoolExecutor(32) as pool:
                list(pool.map(unlink, files))
        shutil.rmtree(path)
    else:
        os.unlink(path)
