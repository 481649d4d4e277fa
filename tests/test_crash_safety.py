"""Kill the runner with SIGKILL at random moments, resume, and check nothing was lost or duplicated."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

from bench.config import load_suite
from bench.runner import plan

KILLS = 10


def bench_run(path, results, *extra):
    cmd = [sys.executable, "-m", "bench.cli", "run", str(path), "--results", str(results),
           "--data-dir", str(path.parent), "--workers", "2", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def rows(results):
    with sqlite3.connect(results) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return db.execute("SELECT key, status, metrics FROM cells ORDER BY key").fetchall()


def count(results):
    """Cells in the store; 0 before the driver has created it (the file can exist a moment before its table)."""
    try:
        return len(rows(results)) if results.exists() else 0
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return 0
        raise


def kill_after(proc, results, target, rng):
    """SIGKILL the driver once the store holds `target` cells, plus a random extra moment."""
    while count(results) < target:
        assert proc.poll() is None, f"the run exited ({proc.returncode}) before reaching {target} cells"
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.3))  # land the kill anywhere: mid-fit, mid-write, between cells
    alive = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)  # the driver only; its workers die with it (PR_SET_PDEATHSIG)
    proc.wait()
    return alive


def test_sigkill_at_random_moments_loses_nothing(toy_suite, tmp_path):
    # Kills are tied to progress, not to wall-clock time, so a faster machine still kills mid-run
    # (CI once finished the whole sweep inside fixed sleeps and the test killed nothing).
    path = toy_suite(["smote", "adasyn", "borderline-smote"], folds=5, repeats=4)
    planned = {c.key for c in plan(load_suite(str(path)), path.parent)}
    killed_db = tmp_path / "killed.sqlite"
    rng = random.Random(0)
    counts, alive = [], []
    for i in range(1, KILLS + 1):
        proc = bench_run(path, killed_db)
        alive.append(kill_after(proc, killed_db, i * len(planned) // (KILLS + 2), rng))
        counts.append(count(killed_db))
    assert counts == sorted(counts), "a resumed run lost cells that were finished before"
    assert all(alive), "a run finished before its kill; that kill tested nothing"
    assert counts[-1] < len(planned)

    assert bench_run(path, killed_db).wait() == 0
    clean_db = tmp_path / "clean.sqlite"
    assert bench_run(path, clean_db).wait() == 0

    killed, clean = rows(killed_db), rows(clean_db)
    assert {k for k, _, _ in killed} == planned and len(killed) == len(planned)  # each cell exactly once
    assert all(status == "ok" for _, status, _ in killed)
    # same seeds -> same metrics (fit time and memory aside, which are measurements of this run)
    import json

    def stable(m):
        return {k: v for k, v in json.loads(m).items() if k not in ("fit_seconds", "peak_memory_mb")}

    assert [(k, stable(m)) for k, _, m in killed] == [(k, stable(m)) for k, _, m in clean]
