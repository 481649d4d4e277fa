"""The Ray executor on a real multi-node Ray cluster started on the loopback address of this machine.

Every cell of a small sweep (cells that succeed, hang, exhaust memory, crash, or kill their Ray worker) is
recorded exactly once through ``bench run --executor ray --ray-address ...``, with the same status and numbers
as the ``processes`` executor. The cluster is isolated (its own temp dir and ports) and always torn down by
ending the processes it started, never with ``ray stop``, which ends every Ray on the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

pytest.importorskip("ray")

from bench.config import load_suite  # noqa: E402
from bench.runner import plan  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
LIMIT_S, MEMORY_GB = 20, 4
# Ray on Linux replaces a loopback --node-ip-address by the machine's outward address unless this is 0; the
# whole cluster (and the driver) then stays on 127.0.0.1. Token authentication with a token of its own: Ray
# otherwise turns it on or off by whether ~/.ray/auth_token exists (a local ray.init() writes one), and a node
# or driver that disagrees with the head cannot join.
ENV = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
       "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
# With that variable at 0, `ray start --address` refuses to join ("multi-node clusters are not supported on
# Windows and OSX"), so the nodes run Ray's own `ray` command with that check passed and the address pinned to
# loopback; everything else is the plain `ray start` (the raylets and workers still see the variable at 0).
RAY_CLI = [sys.executable, "-c", "import sys, ray._private.ray_constants as c, ray._private.services as s; "
           "c.ENABLE_RAY_CLUSTER = True; s.node_ip_address_from_perspective = lambda address=None: '127.0.0.1'; "
           "from ray.scripts.scripts import main; sys.exit(main())"]


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class LoopbackCluster:
    """A head and ``nodes - 1`` joined nodes, one CPU each, all ``ray start`` on 127.0.0.1."""

    def __init__(self, nodes: int = 2):
        self.nodes = nodes
        self.temp_dir = tempfile.mkdtemp(prefix="bench-ray-", dir="/tmp")  # short: Ray's socket paths are long
        self.sessions: list[int] = []  # each `ray start` leads a session its daemons and workers stay in
        self.address = ""

    def start(self) -> None:
        port = free_ports(1)[0]
        self.address = f"127.0.0.1:{port}"
        for i in range(self.nodes):
            node_ports = dict(zip(["node-manager", "object-manager", "dashboard-agent-listen",
                                   "dashboard-agent-grpc", "runtime-env-agent", "metrics-export"], free_ports(6)))
            where = (["--head", "--port", str(port), "--include-dashboard", "false"] if i == 0
                     else ["--address", self.address])
            cmd = [*RAY_CLI, "start", *where, "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
                   "--temp-dir", self.temp_dir, "--disable-usage-stats",
                   *[a for k, v in node_ports.items() for a in (f"--{k}-port", str(v))]]
            proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, start_new_session=True, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            self.sessions.append(proc.pid)
            out, _ = proc.communicate(timeout=180)
            if proc.returncode:
                raise RuntimeError(f"ray start failed ({proc.returncode}):\n{out[-3000:]}")

    def alive_nodes(self) -> list[str]:
        script = ("import json, ray; ray.init(address='%s', include_dashboard=False, log_to_driver=False); "
                  "print(json.dumps([n['NodeManagerAddress'] for n in ray.nodes() if n['Alive']]))" % self.address)
        out = subprocess.run([sys.executable, "-c", script], env=ENV, cwd=ROOT, capture_output=True, text=True,
                             timeout=120, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    def processes(self) -> list[psutil.Process]:
        found = []
        for p in psutil.process_iter():
            try:
                if os.getsid(p.pid) in self.sessions:
                    found.append(p)
            except (OSError, psutil.Error):
                continue  # gone meanwhile
        return found

    def stop(self) -> None:
        procs = self.processes()
        for p in procs:
            try:
                p.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(procs, timeout=15)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=10)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    c = LoopbackCluster(nodes=2)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        assert not c.processes(), "processes of the test cluster outlived it"


def bench_run(path, results, *extra):
    cmd = [sys.executable, "-m", "bench.cli", "run", str(path), "--results", str(results), "--data-dir",
           str(path.parent), "--timeout", str(LIMIT_S), "--memory-gb", str(MEMORY_GB), *extra]
    done = subprocess.run(cmd, cwd=ROOT, env={**ENV, "COLUMNS": "200"}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(results) as db:
        rows = db.execute("SELECT key, method, status, failure, seconds, metrics FROM cells").fetchall()
    return {key: (method, status, failure, seconds, json.loads(metrics)) for key, method, status, failure, seconds,
            metrics in rows}


def stable(metrics: dict) -> dict:
    """Metrics without the measurements of one run (time, memory)."""
    return {k: v for k, v in metrics.items() if k not in ("fit_seconds", "peak_memory_mb")}


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
def test_cluster_sweep_records_every_cell_like_the_process_pool(cluster, toy_suite, tmp_path):
    assert cluster.alive_nodes() == ["127.0.0.1"] * 2
    once = "only: {folds: 1}"  # the misbehaving methods on one fold each
    path = toy_suite(["smote",
                      f"{{name: hangs, method: 'tests.plugins:Hanging', {once}}}",
                      f"{{name: hog, method: 'tests.plugins:MemoryHog', {once}}}",
                      f"{{name: crashes, method: 'tests.plugins:Crashing', {once}}}",
                      f"{{name: kills-worker, method: 'tests.plugins:KillsWorker', {once}}}",
                      f"{{name: wedges, method: 'tests.plugins:StopsWorker', {once}}}"])
    planned = {c.key for c in plan(load_suite(str(path)), path.parent)}
    failing = {"hangs": "timeout", "hog": "oom", "crashes": "crashed", "kills-worker": "crashed",
               "wedges": "timeout"}

    pool = bench_run(path, tmp_path / "processes.sqlite", "--executor", "processes", "--workers", "2")
    on_ray = bench_run(path, tmp_path / "ray.sqlite", "--executor", "ray", "--ray-address", cluster.address)

    for rows in (pool, on_ray):
        assert set(rows) == planned  # every cell exactly once (the key is the primary key)
        status: dict[str, set] = {}
        for method, st, _, _, _ in rows.values():
            status.setdefault(method, set()).add(st)
        why = "\n".join(f"{m}: {st}: {f}" for m, st, f, _, _ in rows.values() if m in failing)  # shown in full
        assert {m: s for m, s in status.items() if m in failing} == {m: {s} for m, s in failing.items()}, why
        assert {m: s for m, s in status.items() if m not in failing} == {m: {"ok"} for m in status if m not in failing}
        # a timeout records its limit, counted from the cell's start
        assert [s for m, _, _, s, _ in rows.values() if m in ("hangs", "wedges")] == [LIMIT_S] * 2
    assert {k: (r[1], stable(r[4])) for k, r in on_ray.items()} == {k: (r[1], stable(r[4])) for k, r in pool.items()}
    failure = {r[0]: r[2] for r in on_ray.values()}
    assert "the Ray worker running the cell died" in failure["kills-worker"]  # reported by Ray, not timed out
    assert "cell exceeded its" in failure["hangs"]  # the Ray worker's child met the limit
    assert "stopped answering" in failure["wedges"]  # the driver's backstop cancelled the Ray worker
