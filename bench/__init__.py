"""The kit's rerunnable benchmark: ``python bench/run.py [--quick] [--out FILE.json]`` (see docs/benchmarks.md)."""
