"""CondoLake's benchmarks: outside the package, never imported by `src/` (run `./run bench`)."""
