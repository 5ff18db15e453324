"""coffer, restic and borg: the packages and the coffer build the bench needs, each tool's
commands in a repository of its own (Tool), a `coffer serve` started for one phase alone
(CofferServer), and stopping the on-demand one."""

import copy
import json
import os
import select
import shutil
import signal
import subprocess
import time

from .settings import PASSPHRASE, ROOT, WORK
from .util import die, log, sh
from .formats import fmt_mib
from .measure import du, proc_cmdline, proc_cpu_s, vm_hwm, vm_rss


def have_pkg(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return "install ok installed" in r.stdout


def ensure_packages(tools, mount=False):
    want = {"time": "/usr/bin/time", "openssl": "/usr/bin/openssl"}
    if "restic" in tools:
        want["restic"] = "/usr/bin/restic"
    if "borg" in tools:
        want["borgbackup"] = "/usr/bin/borg"
    if mount:
        want["fio"] = "/usr/bin/fio"
        want["fuse3"] = "/usr/bin/fusermount3"
        if "borg" in tools and not (have_pkg("python3-llfuse") or have_pkg("python3-pyfuse3")):
            want["python3-llfuse"] = "/nonexistent"
    missing = [p for p, path in want.items() if not os.path.exists(path) and not have_pkg(p)]
    if not missing:
        return
    log("installing " + " ".join(missing) + " with apt-get")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sh(sudo + ["apt-get", "update"], env=env)
    sh(sudo + ["apt-get", "install", "-y", "--no-install-recommends"] + missing, env=env)


def build_coffer():
    bdir = os.path.join(ROOT, "build-release")
    log("building Coffer (Release) in " + bdir)
    cache = os.path.join(bdir, "CMakeCache.txt")
    configured = os.path.exists(os.path.join(bdir, "build.ninja")) and os.path.exists(cache) \
        and "CMAKE_BUILD_TYPE:STRING=Release\n" in open(cache).read()
    try:
        if not configured:  # otherwise ninja runs cmake again itself if a CMakeLists changed
            sh(["cmake", "-S", ROOT, "-B", bdir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                "-DCOFFER_BUILD_TESTS=OFF"], stdout=subprocess.DEVNULL)
        sh(["cmake", "--build", bdir, "--target", "coffer", "-j", str(os.cpu_count() or 2)],
           stdout=subprocess.DEVNULL)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        die(f"building Coffer failed ({e}); install the build dependencies with "
            "`scripts/dev.sh deps`, or pass --coffer PATH")
    return os.path.join(bdir, "tools", "coffer")


def private_copy(coffer):
    """A copy of the coffer binary in bench/work, so that a rebuild during the run (which
    replaces the file, or makes it unrunnable while it links) changes nothing measured."""
    os.makedirs(os.path.join(WORK, "bin"), exist_ok=True)
    copy = os.path.join(WORK, "bin", "coffer")
    tmp = copy + ".tmp"
    shutil.copy2(coffer, tmp)
    os.replace(tmp, copy)
    return copy


def tool_version(tool, coffer):
    cmd = {"coffer": [coffer, "--version"], "restic": ["restic", "version"],
           "borg": ["borg", "--version"]}[tool]
    r = subprocess.run(cmd, capture_output=True, text=True)
    v = (r.stdout.strip() or r.stderr.strip()).splitlines()[0] if r.returncode == 0 else "?"
    if tool == "coffer":  # the source it was built from, as far as the work tree tells
        g = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                           capture_output=True, text=True)
        if g.returncode == 0:
            v += f" (work tree {g.stdout.strip()})"
    return v


class Tool:
    def __init__(self, name, runner, coffer_bin, corpus_path, run_no, home=None):
        self.name = name
        self.r = runner
        self.coffer = coffer_bin
        self.corpus = corpus_path
        self.home = home or os.path.join(WORK, f"{name}-run{run_no}")
        shutil.rmtree(self.home, ignore_errors=True)
        os.makedirs(self.home)
        self.repo = os.path.join(self.home, "repo")
        self.cache = os.path.join(self.home, "cache")
        env = dict(os.environ)
        for k in list(env):
            if k.startswith(("COFFER_", "RESTIC_", "BORG_")):
                del env[k]
        if name == "coffer":
            env.update(COFFER_REPO=self.repo, COFFER_PASSPHRASE=PASSPHRASE)
        elif name == "restic":
            env.update(RESTIC_REPOSITORY=self.repo, RESTIC_PASSWORD=PASSPHRASE,
                       RESTIC_CACHE_DIR=self.cache)
        else:
            env.update(BORG_REPO=self.repo, BORG_PASSPHRASE=PASSPHRASE,
                       BORG_BASE_DIR=self.cache, BORG_RELOCATED_REPO_ACCESS_IS_OK="yes",
                       BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes")
        self.env = env
        self.nbackup = 0
        self.serve_rss_kib = None  # of the on-demand server of the last command (run)

    def run(self, label, cmd, cwd=None, own_server=True):
        """Measures one command: (wall s, peak RSS KiB, CPU s). A coffer command starts
        the server it needs, as it would run alone (from cron, say): none is left from
        the commands before it, and that server's CPU is added to the command's, as
        restic and borg do all their work in one process. The server is then stopped,
        so the repository's size is measured closed, not in the middle of a compaction.
        Its peak RSS is in self.serve_rss_kib. With own_server=False (a phase that
        started a server of its own for the command), none of this."""
        name = f"{self.name}-{label}"
        if self.name != "coffer" or not own_server:
            return self.r.measure(name, cmd, env=self.env, cwd=cwd)
        stop_coffer_serve(self.repo)
        secs, rss, cpu = self.r.measure(name, cmd, env=self.env, cwd=cwd)
        pid = coffer_serve_pid(self.repo)
        server_cpu = proc_cpu_s(pid) if pid else 0.0
        self.serve_rss_kib = vm_hwm(pid) if pid else None
        stop_coffer_serve(self.repo)
        if pid:
            log(f"{name}: its coffer serve {fmt_mib(self.serve_rss_kib)} peak RSS, "
                f"{server_cpu:.2f} s CPU")
        return secs, rss, cpu + server_cpu

    def init(self):
        cmd = {"coffer": [self.coffer, "init"],
               "restic": ["restic", "init", "--repository-version", "2"],
               "borg": ["borg", "init", "-e", "repokey-blake2"]}[self.name]
        return self.run("init", cmd)

    def backup(self, label):
        self.nbackup += 1
        cmd = {"coffer": [self.coffer, "backup", self.corpus, "--group", "host/bench", "--json"],
               "restic": ["restic", "backup", "--compression", "auto", "--host", "bench",
                          self.corpus],
               "borg": ["borg", "create", "--compression", "zstd,3",
                        f"::bench-{self.nbackup}", self.corpus]}[self.name]
        res = self.run(label, cmd)
        return res + (du(self.repo),)

    def restore(self, target):
        os.makedirs(target)
        cmd = {"coffer": [self.coffer, "restore", "host/bench/latest", "--target", target],
               "restic": ["restic", "restore", "latest", "--target", target],
               "borg": ["borg", "extract", f"::bench-{self.nbackup}"]}[self.name]
        return self.run("restore", cmd, cwd=target)

    def cache_size(self):
        return du(self.cache) if os.path.isdir(self.cache) else 0

    def clone(self, tag):
        """A copy of this tool's repository and client cache, for a phase that changes the
        repository and is measured more than once (forget + gc)."""
        if self.name == "coffer":
            stop_coffer_serve(self.repo)  # RocksDB is copied closed
        c = copy.copy(self)
        c.home = os.path.join(self.home, tag)
        shutil.rmtree(c.home, ignore_errors=True)
        os.makedirs(c.home)
        c.repo = os.path.join(c.home, "repo")
        c.cache = os.path.join(c.home, "cache")
        sh(["cp", "-a", self.repo, c.repo])
        if os.path.isdir(self.cache):
            sh(["cp", "-a", self.cache, c.cache])
        sock = os.path.join(c.repo, "serve.sock")
        if os.path.lexists(sock):
            os.unlink(sock)
        c.env = dict(self.env)
        key = {"coffer": "COFFER_REPO", "restic": "RESTIC_REPOSITORY", "borg": "BORG_REPO"}
        c.env[key[self.name]] = c.repo
        if self.name == "restic":
            c.env["RESTIC_CACHE_DIR"] = c.cache
        elif self.name == "borg":
            c.env["BORG_BASE_DIR"] = c.cache
        return c

    def run_with_server(self, label, cmd, warm_cmd=None):
        """Runs a coffer command against a `coffer serve` started for it alone, so the
        server's peak RSS and CPU are this command's. Returns the client's (wall s, peak
        RSS KiB, CPU s) and the server's (peak RSS KiB, CPU s, RSS KiB when it was ready).
        With warm_cmd, that runs first, untimed, and the server's peak and ready RSS are
        taken from after it."""
        server = CofferServer(self, self.r, label)
        try:
            if warm_cmd:
                self.run(label + "-warm", warm_cmd, own_server=False)
                server.rebase()
            res = self.run(label, cmd, own_server=False)
        finally:
            srv = server.stop()
        log(f"{self.name}-{label}: coffer serve {fmt_mib(srv[0])} peak RSS, "
            f"{srv[1]:.2f} s CPU")
        return res, srv

    def verify(self, label="verify"):
        """Reads back, decrypts, decompresses and checks every object of every snapshot."""
        cmd = {"coffer": [self.coffer, "verify", "--json"],
               "restic": ["restic", "check", "--read-data"],
               "borg": ["borg", "check", "--verify-data"]}[self.name]
        out = {}
        if self.name == "coffer":
            (s, rss, cpu), (srss, scpu, _) = self.run_with_server(label, cmd)
            doc = json.load(open(self.r.last_out))
            if not doc.get("ok"):
                die(f"coffer verify found damage: {self.r.last_out}")
            out.update(serve_rss_kib=srss, serve_cpu_s=scpu, client_cpu_s=cpu,
                       bytes_checked=doc.get("bytes_checked"),
                       chunks_checked=doc.get("chunks_checked"))
            cpu += scpu
        else:
            s, rss, cpu = self.run(label, cmd)
        out.update(time_s=s, rss_kib=rss, cpu_s=cpu)
        return out

    def forget(self, label="forget"):
        """Drops every snapshot record but the newest (the data stays until gc)."""
        cmd = {"coffer": [self.coffer, "prune", "--keep-last", "1"],
               "restic": ["restic", "forget", "--keep-last", "1"],
               "borg": ["borg", "prune", "--keep-last", "1"]}[self.name]
        s, rss, cpu = self.run(label, cmd)
        return {"time_s": s, "rss_kib": rss, "cpu_s": cpu}

    def gc(self, label="gc", warm=False):
        """Deletes what no snapshot uses and gives the space back. With warm, coffer's
        server first reads every tree once (`coffer verify --sample 0`), so that its
        block cache is full before the memory the gc itself needs is measured."""
        # restic and borg leave some unused data by default (restic --max-unused 5%,
        # borg --threshold 10% of a segment); coffer gc frees all of it, so they are
        # asked to do the same work.
        cmd = {"coffer": [self.coffer, "gc", "--json"],
               "restic": ["restic", "prune", "--max-unused", "0"],
               "borg": ["borg", "compact", "--threshold", "0"]}[self.name]
        out = {"repo_before_bytes": du(self.repo)}
        if self.name == "coffer":
            warm_cmd = [self.coffer, "verify", "--sample", "0"] if warm else None
            (s, rss, cpu), (srss, scpu, sready) = self.run_with_server(label, cmd, warm_cmd)
            doc = json.load(open(self.r.last_out))
            out.update(serve_rss_kib=srss, serve_cpu_s=scpu, serve_ready_rss_kib=sready,
                       client_cpu_s=cpu, objects_examined=doc.get("objects_examined"),
                       objects_deleted=doc.get("objects_deleted"))
            cpu += scpu
            stop_coffer_serve(self.repo)
        else:
            s, rss, cpu = self.run(label, cmd)
        out.update(time_s=s, rss_kib=rss, cpu_s=cpu, repo_bytes=du(self.repo))
        return out


SERVERS = []  # CofferServer objects still running, stopped on errors and interrupts


class CofferServer:
    """`coffer -r REPO serve --foreground` started by the bench under /usr/bin/time, so
    that one phase's server memory (VmHWM) and CPU are measured on their own. Any server
    left by earlier commands is stopped first."""

    def __init__(self, tool, runner, label):
        stop_coffer_serve(tool.repo)
        runner.seq += 1
        base = os.path.join(runner.logdir, f"{runner.seq:03d}-{tool.name}-{label}-serve")
        self.timefile = base + ".time"
        rfd, wfd = os.pipe()
        with open(base + ".out", "wb") as out, open(base + ".err", "wb") as err:
            self.proc = subprocess.Popen(
                ["/usr/bin/time", "-f", "%e %M %U %S", "-o", self.timefile, tool.coffer,
                 "serve", "--foreground", "--idle-exit", "60s", "--ready-fd", str(wfd)],
                env=tool.env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                pass_fds=(wfd,))
        os.close(wfd)
        SERVERS.append(self)
        ready, _, _ = select.select([rfd], [], [], 120)
        got = os.read(rfd, 1) if ready else b""
        os.close(rfd)
        if not got:
            self.stop()
            die(f"coffer serve did not become ready; see {base}.err")
        self.pid = None
        try:  # the coffer process is /usr/bin/time's only child
            kids = open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read().split()
            self.pid = int(kids[0]) if kids else None
        except OSError:
            pass
        self.ready_rss = vm_rss(self.pid) if self.pid else None

    def rebase(self):
        """Takes the server's peak and ready RSS from now on (Linux: clear_refs 5 resets
        the peak)."""
        if not self.pid:
            return
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")
            self.ready_rss = vm_rss(self.pid)
            self.rebased = True
        except OSError:
            pass

    def stop(self):
        """Stops the server; returns (peak RSS KiB, CPU s, RSS KiB when ready)."""
        if self in SERVERS:
            SERVERS.remove(self)
        hwm = vm_hwm(self.pid) if getattr(self, "pid", None) else None
        if getattr(self, "pid", None):
            try:
                os.kill(self.pid, signal.SIGTERM)
            except OSError:
                pass
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        cpu = None
        try:
            f = open(self.timefile).read().split()
            cpu = float(f[-2]) + float(f[-1])
            hwm = hwm or (None if getattr(self, "rebased", False) else int(f[-3]))
        except (OSError, ValueError, IndexError):
            pass
        return hwm, cpu or 0.0, getattr(self, "ready_rss", None)


def stop_servers():
    for srv in list(SERVERS):
        srv.stop()


def coffer_verify_ok(tool):
    """coffer verify of everything, unmeasured: did gc keep all that the kept snapshots
    use?"""
    r = subprocess.run([tool.coffer, "verify", "--json"], env=tool.env, capture_output=True,
                       text=True)
    try:
        ok = r.returncode == 0 and json.loads(r.stdout).get("ok") is True
    except ValueError:
        ok = False
    log(f"coffer verify after gc: {'intact' if ok else 'DAMAGED: ' + r.stdout[-500:]}")
    stop_coffer_serve(tool.repo)
    return ok


def coffer_serve_pid(repo):
    try:
        txt = open(os.path.join(repo, "lock")).read().split()
        if len(txt) >= 2 and txt[0] == "pid" and "serve" in " ".join(proc_cmdline(txt[1])):
            return int(txt[1])
    except (OSError, ValueError):
        pass
    return None


def stop_coffer_serve(repo):
    """End the on-demand `coffer serve` of the bench's own repository (started by the
    bench's commands), so the mount starts a fresh one and its peak RSS is the mount's."""
    pid = coffer_serve_pid(repo)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    t = time.monotonic()
    for _ in range(300):
        if not os.path.exists(f"/proc/{pid}") or \
                open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z":
            if time.monotonic() - t > 1:
                log(f"coffer serve {pid} took {time.monotonic() - t:.1f} s to exit")
            return
        time.sleep(0.05)
    log(f"coffer serve {pid} did not exit after SIGTERM")
