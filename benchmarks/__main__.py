"""`python -m benchmarks …`: the benchmark command line."""

from benchmarks.cli import app

app(prog_name="bench")
