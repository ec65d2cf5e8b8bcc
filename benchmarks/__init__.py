"""One program per performance figure, run from the repository root as a module, e.g.
`python -m scripts.offline python -m benchmarks.bench_render` (`make bench` runs them all)."""
