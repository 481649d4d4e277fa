"""oversampling-bench: which oversampling method should I use, how much does it help, and what does it cost?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("oversampling-bench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
