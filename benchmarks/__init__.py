"""Benchmarks of `make bench`: speed and memory against the naive way (see __main__)."""
