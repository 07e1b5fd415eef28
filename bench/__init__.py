"""Benchmarks: `make bench` prints a table of figures and writes bench/results/<time>.json."""
