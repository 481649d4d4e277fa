"""Benchmark scripts (speed and cost measurements), run as ``python -m bench.benchmarks.<name>``."""
