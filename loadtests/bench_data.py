"""The Data tool's imports through the portal against the same bytes fetched without
it, in one run (issue 12, "Benchmark").

Starts the test hosts (tests/transfers/hosts.py: nginx and moto in their network
namespace at 198.51.100.2), writes a file of random bytes into nginx's served folder
and the same size of object into moto's public bucket (single-part, so its ETag is
its MD5 and the worker checks it), starts a portal of its own on port 8004 (agents
of its own, so they run this checkout's engine) and, rounds interleaved so drift hits
both sides alike:

- ``url``: her import of ``https://files.example.test/files/<file>`` through the Data
  page's form (size checked), against ``curl`` of the same URL into the same folder.
  Target: >= 0.9x. And like for like with a check: the import with its SHA-256
  pasted (the worker hashes what it writes) against ``curl`` then ``sha256sum``.
- ``s3``: her import of the object, against s3fs used directly (``get_file`` in a
  fresh interpreter, as ``aws s3 cp`` would start one; awscli cannot be installed
  next to aiobotocore's pinned botocore). Target: >= 0.9x.

A portal import is timed from the form's POST to the moment the checked file is in
her folder (the worker's ``ended_at``); when the page first showed it done (the
monitor polls every ``poll_seconds``) is printed beside it. CPU per GiB is counted
for the portal's process, for her agent's reaped children (the worker) and for the
baseline commands. Then a second portal with ``ONESTOP_DATA__TRANSFER_PARTITION=
transfer`` runs four imports as Slurm jobs (two of alice's, two of bob's) while erin
fetches her dashboard: p50/p99 of ``GET /`` idle and during the transfers.

Needs root (the namespace), and the demo cluster and identity provider already up
(``onestop devcluster up``, ``scripts/idp.sh start``): the bench never starts or
reconfigures them, other portals may be using them.

    .venv/bin/python -m loadtests.bench_data [--size-mb 1024] [--s3-size-mb 1024]
        [--rounds 3] [--gets 200] [--jobs 4]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import resource
import secrets
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REPO, Portal, portal_with_own_agents
from tests.helpers import signed_in
from tests.transfers.hosts import TransferHosts, running_hosts

# The demo identity provider accepts portals on 8001-8019; 8004 is this bench's.
PORT = int(os.environ.get("BENCH_PORTAL_PORT", "8004"))
MiB = 2**20
GiB = 2**30
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TARGET_RATIO = 0.9
DASHBOARD_P99_LIMIT = 2.0
PYTHON = str(REPO / ".venv" / "bin" / "python")
# A transfer that takes longer than this is a failure of the bench, not a figure.
TRANSFER_TIMEOUT = 300.0


# -- processes and their CPU -----------------------------------------------------------


def cpu_of(pid: int) -> tuple[float, float]:
    """(own, reaped children's) user+system CPU seconds of a live process: a parent's
    children figure grows when it waits for one, which is how a worker that has
    already exited is still counted (her agent waits for every worker it starts)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the baseline commands)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory (moto keeps objects in memory)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def agent_pid(portal: Portal, user: str) -> int | None:
    """Her agent, found by the socket it holds in the portal's runtime folder."""
    sock = Path(portal.env["ONESTOP_AGENTS__RUNTIME_DIR"]) / f"{user}.sock"
    found = subprocess.run(["fuser", str(sock)], capture_output=True, text=True, check=False)
    pids = [int(word) for word in found.stdout.split() if word.isdigit()]
    return pids[0] if pids else None


def as_user(user: str, *argv: str) -> list[str]:
    return ["runuser", "-u", user, "--", *argv]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- the bytes -----------------------------------------------------------------------


def write_random(path: Path, size: int) -> str:
    """``size`` random bytes (incompressible, so nothing is cheaper than it looks);
    their SHA-256, computed as they are written."""
    digest = hashlib.sha256()
    block = 4 * MiB
    with path.open("wb") as out:
        left = size
        while left > 0:
            data = os.urandom(min(block, left))
            digest.update(data)
            out.write(data)
            left -= len(data)
    return digest.hexdigest()


def put_object(hosts: TransferHosts, key: str, path: Path) -> str:
    """One single-part PUT into the public bucket (its ETag is then the MD5 the worker
    checks); the ETag."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=hosts.s3_endpoint,
        region_name=hosts.s3_region,
        # The public bucket's server checks no signatures; boto3 wants some keys.
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106
        config=Config(s3={"addressing_style": "path"}),
    )
    with path.open("rb") as body:
        answer = client.put_object(Bucket=hosts.s3_public_bucket, Key=key, Body=body)
    return str(answer["ETag"]).strip('"')


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


# -- the portal's side ---------------------------------------------------------------


@dataclass
class Row:
    id: str
    state: str
    runs_as: str
    verified: bool
    message: str


def row_by_token(portal: Portal, token: str) -> Row | None:
    with contextlib.closing(sqlite3.connect(portal.database_url.removeprefix("sqlite:///"))) as db:
        found = db.execute(
            "select id, state, runs_as, verified, message from data_transfers where token = ?",
            (token,),
        ).fetchone()
    return None if found is None else Row(found[0], found[1], found[2], bool(found[3]), found[4])


def progress_of(user: str, transfer_id: str) -> dict[str, Any] | None:
    """The worker's own report, read as root straight from her transfer folder."""
    path = Path(f"/home/{user}/.onestop/transfers/{transfer_id}/progress.json")
    with contextlib.suppress(OSError, ValueError):
        value = json.loads(path.read_text())
        if isinstance(value, dict):
            return value
    return None


def start_import(client: httpx.Client, portal: Portal, fields: dict[str, str]) -> str:
    """Her form, posted as the Data page posts it; the transfer's one-time token."""
    page = client.get(f"{portal.url}/data")
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    token = secrets.token_hex(12)
    answer = client.post(
        f"{portal.url}/data/import", data={**fields, "csrf_token": found.group(1), "token": token}
    )
    assert answer.status_code == 303, (answer.status_code, answer.text[:2000])
    return token


@dataclass
class Outcome:
    seconds: float  # POST -> the checked file in her folder
    shown: float  # POST -> the portal's record says done
    worker_seconds: float  # the worker's own start -> end
    portal_cpu: float
    worker_cpu: float
    checks: list[str]


def portal_import(
    portal: Portal, client: httpx.Client, user: str, fields: dict[str, str]
) -> Outcome:
    """One import through the portal, waited for, timed and its CPU counted."""
    portal_process = portal.process
    assert portal_process is not None
    agent = agent_pid(portal, user)
    portal_before = cpu_of(portal_process.pid)[0]
    agent_before = cpu_of(agent)[1] if agent else 0.0
    wall, started = time.time(), time.perf_counter()
    token = start_import(client, portal, fields)
    deadline = started + TRANSFER_TIMEOUT
    while True:
        row = row_by_token(portal, token)
        if row is not None and row.state in ("done", "failed", "cancelled"):
            shown = time.perf_counter() - started
            break
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the transfer did not end in {TRANSFER_TIMEOUT:g} s: {row}")
        time.sleep(0.02)
    if row.state != "done":
        raise RuntimeError(f"the transfer {row.state}: {row.message}")
    portal_cpu = cpu_of(portal_process.pid)[0] - portal_before
    report = progress_of(user, row.id) or {}
    # The worker has ended; her agent reaps it within moments.
    agent = agent or agent_pid(portal, user)
    worker_cpu = 0.0
    if agent:
        for _ in range(50):
            worker_cpu = cpu_of(agent)[1] - agent_before
            if worker_cpu > 0:
                break
            time.sleep(0.02)
    ended, began = float(report.get("ended_at") or 0), float(report.get("started_at") or 0)
    checks = [str(check.get("method")) for check in report.get("checks") or []]
    return Outcome(ended - wall, shown, ended - began, portal_cpu, worker_cpu, checks)


# -- the baselines -------------------------------------------------------------------


@dataclass
class Timed:
    seconds: float
    cpu: float


def timed(argv: list[str]) -> Timed:
    """A whole command, interpreter start and all, and its CPU."""
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(argv, check=True, cwd="/", stdout=subprocess.DEVNULL)
    return Timed(time.perf_counter() - started, children_cpu() - cpu)


S3FS_GET = """
import sys
import s3fs
fs = s3fs.S3FileSystem(anon=True, endpoint_url=sys.argv[1], skip_instance_cache=True)
fs.get_file(sys.argv[2], sys.argv[3])
"""


# -- the measurements ------------------------------------------------------------------


@dataclass
class Series:
    """One way of moving the bytes, over the rounds."""

    name: str
    size: int
    seconds: list[float] = field(default_factory=list)
    shown: list[float] = field(default_factory=list)
    worker_seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the command's, or the worker's
    portal_cpu: list[float] = field(default_factory=list)
    checks: set[str] = field(default_factory=set)

    @property
    def best(self) -> float:
        return min(self.seconds)

    def mbps(self) -> float:
        return self.size / MiB / self.best

    def per_gib(self, values: list[float]) -> float:
        return statistics.median(values) * 1000 / (self.size / GiB) if values else 0.0


@contextlib.contextmanager
def alice_folder(name: str) -> Iterator[Path]:
    """A folder of alice's for the results, emptied between runs, removed after."""
    folder = Path("/home/alice") / name
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run(as_user("alice", "mkdir", "-p", str(folder)), check=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def empty(folder: Path) -> None:
    """Freeing a GiB is the file system's work, not the next transfer's: done before
    the clock starts, and the dirty pages written out so no run pays for another's."""
    for entry in folder.iterdir():
        entry.unlink()
    os.sync()


def measure_imports(
    hosts: TransferHosts,
    portal: Portal,
    args: argparse.Namespace,
    names: tuple[str, str],
    hashes: tuple[str, str],
) -> dict[str, Series]:
    url_name, s3_key = names
    sha256, md5 = hashes
    size, s3_size = args.size_mb * MiB, args.s3_size_mb * MiB
    series = {
        "curl": Series("curl", size),
        "portal url": Series("portal url", size),
        "curl+sha": Series("curl+sha", size),
        "portal+sha": Series("portal+sha", size),
        "s3fs": Series("s3fs", s3_size),
        "portal s3": Series("portal s3", s3_size),
    }
    url = hosts.url(url_name)
    with (
        alice_folder(f"bench-data-{secrets.token_hex(3)}") as folder,
        signed_in(portal.url, "alice") as client,
    ):
        url_fields = {"source": "url", "urls": url, "target": str(folder)}
        sha_fields = {"source": "url", "urls": f"{url} {sha256}", "target": str(folder)}
        s3_fields = {
            "source": "s3",
            "endpoint_url": hosts.s3_endpoint,
            "region": hosts.s3_region,
            "bucket": hosts.s3_public_bucket,
            "prefix": s3_key,
            "target": str(folder),
        }
        # Warm: her agent, the worker's imports in the page cache, nginx and moto.
        warm = {"source": "url", "urls": hosts.url("hello.txt"), "target": str(folder)}
        portal_import(portal, client, "alice", warm)
        empty(folder)
        steps: list[tuple[str, Callable[[], None]]] = []

        def baseline(name: str, argv: list[str], expect: str, hash_of: Callable[[Path], str]):  # type: ignore[no-untyped-def]
            def run() -> None:
                done = timed(argv)
                result = folder / "baseline.bin"
                if not series[name].seconds:  # the bytes are right, once
                    assert hash_of(result) == expect, name
                series[name].seconds.append(done.seconds)
                series[name].cpu.append(done.cpu)

            return run

        def through_portal(name: str, fields: dict[str, str], method: str):  # type: ignore[no-untyped-def]
            def run() -> None:
                outcome = portal_import(portal, client, "alice", fields)
                assert outcome.checks == [method], (name, outcome.checks)
                arrived = [entry for entry in folder.iterdir() if entry.is_file()]
                assert [entry.stat().st_size for entry in arrived] == [series[name].size], arrived
                one = series[name]
                one.seconds.append(outcome.seconds)
                one.shown.append(outcome.shown)
                one.worker_seconds.append(outcome.worker_seconds)
                one.cpu.append(outcome.worker_cpu)
                one.portal_cpu.append(outcome.portal_cpu)
                one.checks.update(outcome.checks)

            return run

        curl = [
            "curl", "-sS", "--fail", "--cacert", hosts.ca_file, "-o",
            str(folder / "baseline.bin"), url,
        ]  # fmt: skip
        s3fs_get = [
            PYTHON, "-I", "-c", S3FS_GET, hosts.s3_endpoint,
            f"{hosts.s3_public_bucket}/{s3_key}", str(folder / "baseline.bin"),
        ]  # fmt: skip
        # curl, then the same check the worker makes: its SHA-256 against the pasted one.
        check = f'echo "{sha256}  {folder / "baseline.bin"}" | sha256sum -c --quiet'
        curl_sha = ["bash", "-c", f"{shlex.join(curl)} && {check}"]
        steps = [
            ("curl", baseline("curl", as_user("alice", *curl), sha256, sha256_of)),
            ("portal url", through_portal("portal url", url_fields, "size")),
            ("curl+sha", baseline("curl+sha", as_user("alice", *curl_sha), sha256, sha256_of)),
            ("portal+sha", through_portal("portal+sha", sha_fields, "sha256")),
            ("s3fs", baseline("s3fs", as_user("alice", *s3fs_get), md5, md5_file)),
            ("portal s3", through_portal("portal s3", s3_fields, "md5")),
        ]
        for round_ in range(args.rounds):
            # Alternate the order, so neither side always runs right after the other.
            pairs = [steps[i : i + 2] for i in range(0, len(steps), 2)]
            ordered = [step for pair in pairs for step in (pair if round_ % 2 == 0 else pair[::-1])]
            for _name, step in ordered:
                empty(folder)
                step()
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
        empty(folder)
    return series


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Responsiveness:
    idle: list[float]
    during: list[float]
    transfers: int
    seconds: float  # the transfers, from the first POST to the last one's end
    runs_as: set[str]
    portal_cpu: float
    load: float  # the 1-minute load average at their end
    verified: int


def dashboard_latencies(client: httpx.Client, portal: Portal, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        page = client.get(f"{portal.url}/")
        assert page.status_code == 200, page.status_code
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def measure_jobs(
    hosts: TransferHosts, portal: Portal, args: argparse.Namespace, name: str, sha256: str
) -> Responsiveness:
    """Four job-based imports (alice's and bob's) while erin loads her dashboard."""
    people = ["alice", "bob"]
    folders = {}
    with contextlib.ExitStack() as stack:
        for person in people:
            folder = Path(f"/home/{person}") / f"bench-data-{secrets.token_hex(3)}"
            subprocess.run(as_user(person, "mkdir", "-p", str(folder)), check=True)
            stack.callback(shutil.rmtree, folder, True)
            folders[person] = folder
        clients = {person: stack.enter_context(signed_in(portal.url, person)) for person in people}
        viewer = stack.enter_context(signed_in(portal.url, "erin"))
        dashboard_latencies(viewer, portal, 20)  # warm
        idle = dashboard_latencies(viewer, portal, args.gets)
        portal_process = portal.process
        assert portal_process is not None
        cpu_before = cpu_of(portal_process.pid)[0]
        tokens: list[tuple[str, str]] = []
        started = time.perf_counter()
        for index in range(args.jobs):
            person = people[index % len(people)]
            fields = {
                "source": "url",
                "urls": f"{hosts.url(name)} {sha256}",
                "target": str(folders[person]),
            }
            tokens.append((person, start_import(clients[person], portal, fields)))

        def reports() -> list[tuple[Row | None, dict[str, Any] | None]]:
            found = []
            for person, token in tokens:
                row = row_by_token(portal, token)
                found.append((row, progress_of(person, row.id) if row else None))
            return found

        deadline = time.perf_counter() + TRANSFER_TIMEOUT
        # The clock for "during" starts when every worker runs (the jobs are queued,
        # then started by Slurm) and stops when the first one ends.
        while True:
            now = reports()
            states = [str(report.get("state")) if report else "" for _, report in now]
            if all(state in ("running", "verifying") for state in states):
                break
            if any(state in ("done", "failed", "cancelled") for state in states):
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the jobs did not start: {states}")
            time.sleep(0.05)
        during: list[float] = []
        while len(during) < args.gets:
            states = [str(report.get("state")) if report else "" for _, report in reports()]
            if any(state in ("done", "failed", "cancelled") for state in states):
                break
            during += dashboard_latencies(viewer, portal, 1)
        while True:
            now = reports()
            rows = [row for row, _ in now]
            if all(row is not None and row.state in ("done", "failed") for row in rows):
                break
            if time.perf_counter() > deadline:
                raise RuntimeError("the jobs did not end")
            time.sleep(0.1)
        ended = max(float((report or {}).get("ended_at") or 0) for _, report in now)
        seconds = ended - (time.time() - (time.perf_counter() - started))
        load = os.getloadavg()[0]
        failed = [row.message for row in rows if row is not None and row.state != "done"]
        if failed:
            raise RuntimeError(f"job transfers failed: {failed}")
        return Responsiveness(
            idle=idle,
            during=during,
            transfers=len(tokens),
            seconds=seconds,
            runs_as={row.runs_as for row in rows if row is not None},
            portal_cpu=cpu_of(portal_process.pid)[0] - cpu_before,
            load=load,
            verified=sum(1 for row in rows if row is not None and row.verified),
        )


# -- the report ----------------------------------------------------------------------


def verdict(ratio: float) -> str:
    return "ok" if ratio >= TARGET_RATIO else "MISSED"


def report(
    series: dict[str, Series],
    jobs: Responsiveness | None,
    moto_peak: tuple[float, float],
    args: argparse.Namespace,
) -> None:
    print(f"\nbest of {args.rounds} rounds; CPU figures are medians")
    header = (
        f"{'':<12}{'size MiB':>9}{'best s':>9}{'MiB/s':>9}{'shown s':>9}"
        f"{'worker s':>10}{'cpu ms/GiB':>12}{'portal ms/GiB':>15}  checked"
    )
    print(header)
    for one in series.values():
        portal_side = one.name.startswith("portal")
        print(
            f"{one.name:<12}{one.size / MiB:>9.0f}{one.best:>9.2f}{one.mbps():>9.1f}"
            f"{(min(one.shown) if portal_side else 0):>9.2f}"
            f"{(min(one.worker_seconds) if portal_side else 0):>10.2f}"
            f"{one.per_gib(one.cpu):>12.0f}"
            f"{(one.per_gib(one.portal_cpu) if portal_side else 0):>15.0f}"
            f"  {','.join(sorted(one.checks)) or '-'}"
        )
    print(
        "(best s: the form's POST to the checked file in her folder, or the whole baseline "
        "command; shown s: until the portal's record said done; cpu: the baseline "
        "command's, or the worker's as reaped by her agent)"
    )
    print("\nagainst the baseline, this run (throughput ratio, target >= 0.9)")
    compared = (("portal url", "curl"), ("portal+sha", "curl+sha"), ("portal s3", "s3fs"))
    for ours, theirs in compared:
        ratio = series[theirs].best / series[ours].best
        print(
            f"  {ours:<11} vs {theirs:<5} {ratio:>6.2f}x  (target >= {TARGET_RATIO:g}x)  "
            f"{verdict(ratio)}"
        )
    print(
        f"\nmoto's peak memory: {moto_peak[0]:.0f} MiB before the object, {moto_peak[1]:.0f} "
        f"MiB after it and the reads (it holds an object in memory while it serves it)"
    )
    if jobs is None:
        return
    idle_p50, idle_p99 = statistics.median(jobs.idle), percentile(jobs.idle, 0.99)
    print(
        f"\ndashboard (GET / as erin): idle {len(jobs.idle)} GETs, during {len(jobs.during)} "
        f"GETs while {jobs.transfers} transfers ran as {'/'.join(sorted(jobs.runs_as))} "
        f"(alice and bob, {args.size_mb} MiB each, {jobs.seconds:.1f} s in all, "
        f"{jobs.verified} verified)"
    )
    if jobs.during:
        during_p50, during_p99 = statistics.median(jobs.during), percentile(jobs.during, 0.99)
        print(f"  {'':<8}{'p50 ms':>9}{'p99 ms':>9}")
        print(f"  {'idle':<8}{idle_p50:>9.1f}{idle_p99:>9.1f}")
        print(f"  {'during':<8}{during_p50:>9.1f}{during_p99:>9.1f}")
        slower = during_p99 / idle_p99
        # The issue asks only that the portal "stays responsive"; this bench's own bar:
        # her dashboard's p99 at most twice its idle p99 while the jobs run.
        verdict_p99 = "ok" if slower <= DASHBOARD_P99_LIMIT else "MISSED"
        print(
            f"  p99 during / idle: {slower:.2f}x  (target <= {DASHBOARD_P99_LIMIT:g}x)  "
            f"{verdict_p99}"
        )
    else:
        print("  (the transfers ended before any GET; use a larger --size-mb)")
    moved = jobs.transfers * args.size_mb * MiB / GiB
    print(
        f"  portal CPU while they ran: {jobs.portal_cpu * 1000 / moved:.0f} ms per GiB moved "
        f"(its monitor and erin's pages; the bytes moved in the jobs); load average "
        f"{jobs.load:.2f} on {os.cpu_count()} CPUs"
    )


def require_cluster_and_idp() -> None:
    """Stop with a plain sentence when the cluster or the identity provider is down."""
    nodes = subprocess.run(["sinfo", "-h", "-o", "%n %t"], capture_output=True, text=True)
    if nodes.returncode != 0 or not nodes.stdout.strip():
        raise SystemExit("The demo cluster is not up: run `onestop devcluster up` first.")
    try:
        httpx.get("http://127.0.0.1:9000/.well-known/openid-configuration", timeout=5)
    except httpx.HTTPError as error:
        raise SystemExit(
            "The demo identity provider is not up: run `scripts/idp.sh start`."
        ) from error


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="the URL file, MiB")
    parser.add_argument(
        "--s3-size-mb",
        type=int,
        default=1024,
        help="the S3 object, MiB (moto peaks near twice this in memory)",
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--gets", type=int, default=200, help="dashboard GETs, each phase")
    parser.add_argument("--jobs", type=int, default=4, help="job-based transfers at once")
    args = parser.parse_args(argv)
    require_cluster_and_idp()
    started = time.perf_counter()
    with running_hosts() as hosts, tempfile.TemporaryDirectory() as workdir:
        served = Path(hosts.local_files)
        url_name, s3_key = f"bench-{args.size_mb}m.bin", f"bench/bench-{args.s3_size_mb}m.bin"
        sha256 = write_random(served / url_name, args.size_mb * MiB)
        s3_file = served / f"bench-s3-{args.s3_size_mb}m.bin"
        write_random(s3_file, args.s3_size_mb * MiB)
        moto = hosts.processes["moto"].pid
        before = peak_rss_mib(moto)
        md5 = put_object(hosts, s3_key, s3_file)
        assert md5 == md5_file(s3_file), "a single-part object's ETag is its MD5"
        s3_file.unlink()
        print(f"test files ready in {time.perf_counter() - started:.1f} s", flush=True)
        settings = {
            "ONESTOP_DATA__ALLOWED_RANGES": json.dumps([hosts.network]),
            "ONESTOP_DATA__CA_FILE": hosts.ca_file,
            "ONESTOP_DATA__SECRET_KEY": secrets.token_hex(24),
        }
        (Path(workdir) / "agent").mkdir()
        (Path(workdir) / "jobs").mkdir()
        with portal_with_own_agents(Path(workdir) / "agent", PORT, **settings) as portal:
            series = measure_imports(hosts, portal, args, (url_name, s3_key), (sha256, md5))
        moto_peak = (before, peak_rss_mib(moto))
        jobs = None
        if args.jobs:
            settings["ONESTOP_DATA__TRANSFER_PARTITION"] = "transfer"
            # No memory asked (the demo nodes' 4000 MB would hold only two of the
            # default 2 GB jobs at once): all four run together, none waits queued.
            settings["ONESTOP_DATA__JOB_MEMORY_MB"] = "0"
            settings["ONESTOP_DATA__JOB_TIME_MINUTES"] = "10"
            with portal_with_own_agents(Path(workdir) / "jobs", PORT, **settings) as portal:
                jobs = measure_jobs(hosts, portal, args, url_name, sha256)
    report(series, jobs, moto_peak, args)
    print(f"\n(the whole bench took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
