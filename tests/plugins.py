"""Methods used only by tests: they misbehave on purpose, or record what they were given."""

import os
import time

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


class Recording(Duplication):
    """Duplication that appends the index values it was given to the file named by $BENCH_TEST_RECORD."""

    def fit_resample(self, X, y):
        with open(os.environ["BENCH_TEST_RECORD"], "a") as f:
            f.write(",".join(map(str, X.index)) + "\n")
        return super().fit_resample(X, y)


class CachedRecording(Recording):
    """A costly-method stand-in: its rows go through the resampled-rows cache."""

    cache_resampled = True
