"""Measuring commands and processes: Runner (every measured command under /usr/bin/time,
its output in the log folder), timed, du, dropping the page cache, and a process's command
line and memory from /proc."""

import os
import shlex
import shutil
import subprocess
import time

from .settings import WORK
from .util import die, log


class Runner:
    def __init__(self, cold):
        self.cold = cold
        self.logdir = os.path.join(WORK, "logs")
        shutil.rmtree(self.logdir, ignore_errors=True)
        os.makedirs(self.logdir)
        self.seq = 0
        self.can_drop = True

    def settle(self):
        """Before every measured command: write back dirty pages (so the previous
        command's writes are not charged to this one) and, with --cold, drop the caches."""
        os.sync()
        if self.cold and self.can_drop:
            try:
                with open("/proc/sys/vm/drop_caches", "w") as f:
                    f.write("3\n")
            except OSError as e:
                log(f"cannot drop the page cache ({e}); measuring warm")
                self.can_drop = False

    def measure(self, name, cmd, env=None, cwd=None, ok=(0,)):
        """Run cmd under /usr/bin/time; return (wall seconds, peak RSS in KiB, CPU seconds
        user + system)."""
        self.settle()
        self.seq += 1
        base = os.path.join(self.logdir, f"{self.seq:03d}-{name}")
        tf = base + ".time"
        self.last_out = base + ".out"
        full = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", tf] + cmd
        with open(base + ".out", "wb") as out, open(base + ".err", "wb") as err:
            t = time.monotonic()
            r = subprocess.run(full, env=env, cwd=cwd, stdout=out, stderr=err,
                               stdin=subprocess.DEVNULL)
            wall = time.monotonic() - t
        if r.returncode not in ok:
            tail = open(base + ".err", errors="replace").read()[-2000:]
            die(f"{name}: `{shlex.join(cmd)}` exited with {r.returncode}\n{tail}")
        fields = open(tf).read().split()
        secs, rss = float(fields[-4]), int(fields[-3])
        cpu = float(fields[-2]) + float(fields[-1])
        log(f"{name}: {secs:.2f} s, {rss / 1024:.0f} MiB peak RSS, {cpu:.2f} s CPU")
        return secs, rss, cpu


def du(path):
    r = subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True)
    return int(r.stdout.split()[0])


def drop_caches(level):
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write(f"{level}\n")
        return True
    except OSError:
        return False


def proc_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def pids_with_arg(arg, word):
    """Processes (not this one) whose command line has both arg and word."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            cl = proc_cmdline(d)
            if arg in cl and word in cl:
                out.append(int(d))
    return sorted(out)


def vm_status(pid, field):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_cpu_s(pid):
    """User + system CPU seconds process `pid` has used so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def vm_hwm(pid):
    return vm_status(pid, "VmHWM")


def vm_rss(pid):
    return vm_status(pid, "VmRSS")


def timed(runner, name, cmd, env=None, shell=False):
    """Wall seconds (monotonic) of cmd; its output goes to the log folder."""
    runner.seq += 1
    base = os.path.join(runner.logdir, f"{runner.seq:03d}-{name}")
    with open(base + ".out", "wb") as out, open(base + ".err", "wb") as err:
        t = time.monotonic()
        r = subprocess.run(["sh", "-c", cmd] if shell else cmd, env=env, stdout=out,
                           stderr=err, stdin=subprocess.DEVNULL)
        secs = time.monotonic() - t
    if r.returncode != 0:
        tail = open(base + ".err", errors="replace").read()[-2000:]
        die(f"{name}: `{cmd if shell else shlex.join(cmd)}` exited with {r.returncode}\n{tail}")
    return secs, base + ".out"
