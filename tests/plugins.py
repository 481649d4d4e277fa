"""Methods used only by tests: they misbehave on purpose, or record what they were given."""

import os
import signal
import time

import numpy as np
import pandas as pd

from bench.oversampler import Oversampler
from methods.duplication import Duplication


class Raising(Oversampler):
    def _generate(self, X, strata, needed):
        raise RuntimeError("this method always fails")


class Hanging(Oversampler):
    def _generate(self, X, strata, needed):
        time.sleep(3600)


class MemoryHog(Oversampler):
    def _generate(self, X, strata, needed):
        hog = bytearray(64 * 2**30)  # far over any test memory limit
        return hog


class Crashing(Oversampler):
    """Dies the way a native crash or the kernel's OOM killer ends a process: SIGKILL to itself."""

    def _generate(self, X, strata, needed):
        os.kill(os.getpid(), signal.SIGKILL)


class KillsWorker(Oversampler):
    """Kills the executor's worker: under Ray the Ray worker (this process or, when the cell runs in a child
    of it, its parent); elsewhere its own process. Ray names its workers' processes ``ray::<task>``."""

    def _generate(self, X, strata, needed):
        import psutil

        parent = psutil.Process(os.getppid())
        os.kill(parent.pid if parent.name().startswith("ray::") else os.getpid(), signal.SIGKILL)


class StopsWorker(Oversampler):
    """Leaves the executor's worker alive but unanswering (SIGSTOP), then hangs: under Ray the Ray worker that
    runs this cell's child process, elsewhere its own process."""

    def _generate(self, X, strata, needed):
        import psutil

        parent = psutil.Process(os.getppid())
        os.kill(parent.pid if parent.name().startswith("ray::") else os.getpid(), signal.SIGSTOP)
        time.sleep(3600)


class BadRows(Duplication):
    """Duplication whose new rows break the contract in the way named by ``flaw``."""

    def __init__(self, flaw="nan", *, ratio=1.0, group_column=None, random_state=None):
        super().__init__(ratio=ratio, group_column=group_column, random_state=random_state)
        self.flaw = flaw

    def _generate(self, X, strata, needed):
        new, codes = super()._generate(X, strata, needed)
        new = new.copy()
        num = new.select_dtypes("number").columns[0]
        cat = new.select_dtypes("category").columns[0]
        if self.flaw == "nan":
            new.iloc[0, new.columns.get_loc(num)] = np.nan
        elif self.flaw == "inf":
            new.iloc[0, new.columns.get_loc(num)] = np.inf
        elif self.flaw == "level":
            new[cat] = new[cat].astype(object)
            new.iloc[0, new.columns.get_loc(cat)] = "not-a-level"
        elif self.flaw == "dtype":
            new[num] = pd.Series(["a string"] * len(new), index=new.index)
        return new, codes


class Recording(Duplication):
    """Duplication that appends the index values it was given to the file named by $BENCH_TEST_RECORD."""

    def fit_resample(self, X, y):
        with open(os.environ["BENCH_TEST_RECORD"], "a") as f:
            f.write(",".join(map(str, X.index)) + "\n")
        return super().fit_resample(X, y)


class CachedRecording(Recording):
    """A costly-method stand-in: its rows go through the resampled-rows cache."""

    cache_resampled = True


class Replaying(Duplication):
    """Duplication that says it read 1,000 s of earlier work back from a cache of its own (as OPAL's replies)."""

    def _generate(self, X, strata, needed):
        self.report_["replayed_seconds"] = 1000.0
        return super()._generate(X, strata, needed)
