"""The offsite-copy phases of bench/run (`bench/run --only sync`): coffer sync of a
repository to a new folder on the same disk against `cp -a` of the repository folder (and
`cp -a` then `sync`, a copy on disk when it ends, as coffer's is), to
a local S3 server (s3rver over TLS) against `restic copy` of restic's repository of the
same data, then a sync with nothing new, one after a 1% change, and a sync with nothing
new of a repository of many snapshots. See bench/README.md, "Offsite copies".

bench/run imports this module and hands in its package, bench/coffer_bench, as `bench`
(Runner, drop_caches, stop_servers, the corpora, ...).

Each corpus gets a coffer and a restic repository of three snapshots: the base tree, the
tree after the 1% change step, and the base again. The page cache is dropped before every
timed step (each one reads what the previous wrote), so cp -a and the syncs start cold.
"""

import json
import os
import shutil
import signal
import subprocess
import time

S3RVER = os.environ.get("COFFER_S3RVER", "/opt/coffer-s3rver/node_modules/.bin/s3rver")
S3_PORT = 4671
BUCKET = "bench"
# A repository of this many snapshots of a small tree for the "nothing new" figure.
MANY_SNAPSHOTS = {"full": 2000, "quick": 200}


class S3Server:
    """s3rver over TLS on 127.0.0.1 with a bucket, for the run's length."""

    def __init__(self, bench, folder):
        self.folder = folder
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(os.path.join(folder, "data"))
        self.crt = os.path.join(folder, "s3.crt")
        key = os.path.join(folder, "s3.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", self.crt], check=True, capture_output=True)
        # s3rver's paged listings need DES, in OpenSSL 3's legacy provider.
        env = dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")
        self.proc = subprocess.Popen(
            [S3RVER, "-d", os.path.join(folder, "data"), "-a", "127.0.0.1", "-p", str(S3_PORT),
             "--key", key, "--cert", self.crt, "--configure-bucket", BUCKET, "--silent"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.endpoint = f"https://127.0.0.1:{S3_PORT}"
        deadline = time.monotonic() + 30
        while subprocess.run(["curl", "-s", "-o", "/dev/null", "--cacert", self.crt,
                              f"{self.endpoint}/{BUCKET}"]).returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                bench.die("s3rver did not start (scripts/dev.sh deps installs it)")
            time.sleep(0.1)

    def env(self, base):
        return dict(base, AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY="S3RVER",
                    AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=self.endpoint,
                    AWS_CA_BUNDLE=self.crt)

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait()


def run(bench, args, coffer):
    if not os.path.exists(S3RVER):
        bench.die(f"no s3rver at {S3RVER}: scripts/dev.sh deps installs it")
    size = "quick" if args.quick else "full"
    runner = bench.Runner(cold=False)
    work = os.path.join(bench.WORK, f"sync-{size}")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    server = S3Server(bench, os.path.join(work, "s3"))
    base = dict(os.environ, COFFER_PASSPHRASE=bench.PASSPHRASE, RESTIC_PASSWORD=bench.PASSPHRASE,
                RESTIC_FROM_PASSWORD=bench.PASSPHRASE)
    keyless = {k: v for k, v in base.items() if k != "COFFER_PASSPHRASE"}
    sections = []
    try:
        for name in args.corpus or ["system"]:
            corpus = bench.make_corpus(name, args.quick)
            corpus.ensure_base()
            sections.append(corpus_phases(bench, runner, coffer, corpus,
                                          os.path.join(work, name), server, base, keyless))
            corpus.ensure_base()
        sections.append(many_snapshots(bench, runner, coffer, size, os.path.join(work, "many"),
                                       base, keyless))
    finally:
        for repo in REPOS:
            bench.stop_coffer_serve(repo)
        server.stop()
    doc = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "size": size, "sections": sections}
    os.makedirs(bench.RESULTS, exist_ok=True)
    out = os.path.join(bench.RESULTS, f"sync{'-quick' if args.quick else ''}")
    with open(out + ".json", "w") as f:
        json.dump(doc, f, indent=2)
    text = report(doc)
    with open(out + ".md", "w") as f:
        f.write(text)
    return text


# The repositories of the run, whose on-demand servers are stopped before each step.
REPOS = []


def timed(bench, runner, label, cmd, env):
    """Wall seconds and peak RSS (KiB) of cmd, started with a cold page cache and no
    server running: one still closing its database would hold the repository's lock."""
    for repo in REPOS:
        bench.stop_coffer_serve(repo)
    bench.drop_caches(3)
    secs, rss, _ = runner.measure(label, cmd, env=env)
    return secs, rss


def sync_json(runner):
    with open(runner.last_out) as f:
        return json.load(f)


def corpus_phases(bench, runner, coffer, corpus, work, server, base, keyless):
    bench.log(f"sync phases on {corpus.label}: {corpus.describe()}")
    os.makedirs(work)
    repo, restic = os.path.join(work, "repo"), os.path.join(work, "restic")
    copy, folder = os.path.join(work, "cp-copy"), os.path.join(work, "copy")
    synced_copy = os.path.join(work, "cp-sync-copy")
    REPOS.extend([repo, folder])
    subprocess.run([coffer, "-q", "-r", repo, "init", "--kdf-ops", "1", "--kdf-memory", "8K"],
                   env=base, check=True, capture_output=True)
    subprocess.run(["restic", "-q", "-r", restic, "init"], env=base, check=True,
                   capture_output=True)

    def backup_both():
        subprocess.run([coffer, "-q", "-r", repo, "backup", "--group", "host/bench", corpus.path],
                       env=base, check=True)
        subprocess.run(["restic", "-q", "-r", restic, "backup", corpus.path], env=base,
                       check=True, stdout=subprocess.DEVNULL)

    # Three snapshots: the base, after the 1% change, the base again.
    backup_both()
    corpus.apply_change()
    backup_both()
    corpus.ensure_base()
    backup_both()
    r = {"corpus": corpus.label, "description": corpus.describe(),
         "repository_bytes": bench.du(repo), "restic_repository_bytes": bench.du(restic)}

    # cp -a returns with its copy in the page cache; coffer's sync to a new folder returns
    # with its copy on disk (every file and the folder fsynced). The target is against
    # cp -a; cp -a then sync is the like-for-like figure.
    r["cp_s"], _ = timed(bench, runner, "cp-a", ["cp", "-a", repo, copy], keyless)
    r["cp_sync_s"], _ = timed(bench, runner, "cp-a-sync",
                              ["sh", "-c", 'cp -a "$1" "$2" && sync', "sh", repo, synced_copy],
                              keyless)
    r["sync_folder_s"], r["sync_folder_rss_kib"] = timed(
        bench, runner, "sync-folder", [coffer, "-r", repo, "sync", "--init", "--to", folder,
                                       "--json"], keyless)
    r["sync_folder"] = sync_json(runner)
    # "files" is the fast path (the repository's files copied whole); "objects" here
    # would mean it fell back to copying object by object.
    r["sync_folder_method"] = r["sync_folder"].get("method", "unknown")
    bench.log(f"sync to a new folder: method {r['sync_folder_method']}")
    r["nothing_new_folder_s"], _ = timed(
        bench, runner, "sync-folder-again", [coffer, "-r", repo, "sync", "--to", folder, "--json"],
        keyless)
    shutil.rmtree(copy)
    shutil.rmtree(synced_copy)

    s3 = server.env(keyless)
    bucket = f"s3://{BUCKET}/{corpus.label}"
    r["sync_s3_s"], r["sync_s3_rss_kib"] = timed(
        bench, runner, "sync-s3", [coffer, "-r", repo, "sync", "--init", "--to", bucket, "--json"], s3)
    r["sync_s3"] = sync_json(runner)
    r["nothing_new_s3_s"], _ = timed(
        bench, runner, "sync-s3-again", [coffer, "-r", repo, "sync", "--to", bucket, "--json"], s3)
    restic_s3 = ["restic", "-q", "-r", f"s3:{server.endpoint}/{BUCKET}/restic-{corpus.label}",
                 "--cacert", server.crt]
    subprocess.run(restic_s3 + ["init", "--copy-chunker-params", "--from-repo", restic],
                   env=server.env(base), check=True, capture_output=True)
    r["restic_copy_s3_s"], r["restic_copy_s3_rss_kib"] = timed(
        bench, runner, "restic-copy-s3", restic_s3 + ["copy", "--from-repo", restic],
        server.env(base))

    # A fourth backup with 1% of the corpus's bytes new (the change step itself would
    # add nothing: its data is in the second snapshot); the next sync sends about what
    # that backup added.
    extra = os.path.join(work, "extra")
    os.makedirs(extra)
    left = bench.du(corpus.path) // 100
    for i in range((left >> 20) + 1):
        with open(os.path.join(extra, f"new{i}"), "wb") as f:
            f.write(os.urandom(min(left, 1 << 20)))
        left -= min(left, 1 << 20)
    added = subprocess.run([coffer, "-q", "-r", repo, "backup", "--group", "host/bench", "--json",
                            corpus.path, extra], env=base, check=True, capture_output=True)
    r["fourth_backup_bytes_added"] = json.loads(added.stdout)["bytes_added"]
    r["after_change_folder_s"], _ = timed(
        bench, runner, "sync-folder-changed", [coffer, "-r", repo, "sync", "--to", folder, "--json"],
        keyless)
    r["after_change_folder"] = sync_json(runner)
    r["after_change_s3_s"], _ = timed(
        bench, runner, "sync-s3-changed", [coffer, "-r", repo, "sync", "--to", bucket, "--json"], s3)
    r["after_change_s3"] = sync_json(runner)
    r["keyless_read_data_s"], _ = timed(
        bench, runner, "verify-keyless-read-data",
        [coffer, "-r", folder, "verify", "--without-key", "--read-data", "--json"], keyless)
    return r


def many_snapshots(bench, runner, coffer, size, work, base, keyless):
    """A repository of many snapshots of a small tree, each a little different."""
    n = MANY_SNAPSHOTS[size]
    bench.log(f"a repository of {n} snapshots")
    os.makedirs(work)
    tree, repo, folder = (os.path.join(work, x) for x in ("tree", "repo", "copy"))
    REPOS.extend([repo, folder])
    os.makedirs(tree)
    for i in range(50):
        with open(os.path.join(tree, f"file{i}"), "w") as f:
            f.write(f"file {i}\n" * 100)
    subprocess.run([coffer, "-q", "-r", repo, "init", "--kdf-ops", "1", "--kdf-memory", "8K"],
                   env=base, check=True, capture_output=True)
    groups = 10
    for i in range(n):
        with open(os.path.join(tree, "counter"), "w") as f:
            f.write(f"{i}\n")
        subprocess.run([coffer, "-q", "-r", repo, "backup", "--group", f"host/h{i % groups}", tree],
                       env=base, check=True)
    r = {"snapshots": n, "groups": groups}
    r["first_sync_s"], _ = timed(bench, runner, "many-sync",
                                 [coffer, "-r", repo, "sync", "--init", "--to", folder, "--json"],
                                 keyless)
    r["first_sync_method"] = sync_json(runner).get("method", "unknown")
    r["nothing_new_s"], r["nothing_new_rss_kib"] = timed(
        bench, runner, "many-sync-again", [coffer, "-r", repo, "sync", "--to", folder, "--json"],
        keyless)
    return r


def report(doc):
    lines = [f"# Offsite copies ({doc['size']}, {doc['date']})", ""]
    for s in doc["sections"]:
        if "corpus" not in s:
            lines += [f"## {s['snapshots']} snapshots in {s['groups']} groups", "",
                      f"- first sync to a new folder: {s['first_sync_s']:.2f} s "
                      f"(method: {s.get('first_sync_method', 'unknown')})",
                      f"- sync with nothing new: {s['nothing_new_s']:.2f} s "
                      f"(target < 2 s: {'PASS' if s['nothing_new_s'] < 2 else 'FAIL'}), "
                      f"{s['nothing_new_rss_kib'] / 1024:.0f} MiB peak RSS", ""]
            continue
        half_cp = s["sync_folder_s"] <= 2 * s["cp_s"]
        method = s.get("sync_folder_method", "unknown")
        vs_restic = s["restic_copy_s3_s"] / s["sync_s3_s"]
        added = s["after_change_folder"]["bytes_copied"]
        lines += [
            f"## {s['corpus']}: {s['description']}", "",
            f"Coffer repository {s['repository_bytes'] / 1e6:.0f} MB (3 snapshots), restic's "
            f"{s['restic_repository_bytes'] / 1e6:.0f} MB.", "",
            "| step | coffer | other | ratio | target |",
            "| --- | --- | --- | --- | --- |",
            f"| to a new folder (method: {method}) | {s['sync_folder_s']:.2f} s | "
            f"cp -a {s['cp_s']:.2f} s; cp -a + sync {s['cp_sync_s']:.2f} s | "
            f"{s['sync_folder_s'] / s['cp_s']:.1f}x cp -a's time; "
            f"{s['sync_folder_s'] / s['cp_sync_s']:.1f}x cp -a + sync's time | within 2x cp -a: "
            f"{'PASS' if half_cp else 'FAIL'} |",
            f"| to S3 (s3rver, TLS) | {s['sync_s3_s']:.2f} s | restic copy "
            f"{s['restic_copy_s3_s']:.2f} s | {vs_restic:.1f}x faster | 2x: "
            f"{'PASS' if vs_restic >= 2 else 'FAIL'} |",
            f"| nothing new, folder | {s['nothing_new_folder_s']:.2f} s | | | < 2 s: "
            f"{'PASS' if s['nothing_new_folder_s'] < 2 else 'FAIL'} |",
            f"| nothing new, S3 | {s['nothing_new_s3_s']:.2f} s | | | < 2 s: "
            f"{'PASS' if s['nothing_new_s3_s'] < 2 else 'FAIL'} |",
            f"| after 1% new, folder | {s['after_change_folder_s']:.2f} s, "
            f"{added / 1e6:.1f} MB sent | backup added "
            f"{s['fourth_backup_bytes_added'] / 1e6:.1f} MB | | proportional |",
            f"| after 1% new, S3 | {s['after_change_s3_s']:.2f} s, "
            f"{s['after_change_s3']['bytes_copied'] / 1e6:.1f} MB sent | | | proportional |",
            f"| keyless check reading all data | {s['keyless_read_data_s']:.2f} s | | | |",
            "",
            "cp -a returns with its copy in the page cache; coffer's sync to a new folder and "
            "cp -a + sync return with it on disk. The target is against cp -a.", "",
            f"Peak RSS: sync to a folder {s['sync_folder_rss_kib'] / 1024:.0f} MiB, to S3 "
            f"{s['sync_s3_rss_kib'] / 1024:.0f} MiB; restic copy "
            f"{s['restic_copy_s3_rss_kib'] / 1024:.0f} MiB.", ""]
    return "\n".join(lines)
