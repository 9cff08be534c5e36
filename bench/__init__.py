"""Benchmarks of the course: training throughput, notebook run time and memory, model quality.

Run ``python -m bench.run --help`` from the repository root.
"""
