"""oversampling-bench: which oversampling method should I use, how much does it help, and what does it cost?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("oversampling-bench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str):
    # `bench.compare(df, target=...)` without importing pandas and scikit-learn on `import bench`.
    if name == "compare":
        from bench.comparison import compare

        return compare
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
