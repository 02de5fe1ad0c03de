"""`python -m benchmarks` (or `./run bench`): the benchmark commands, each a thin caller."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from condolake.config import Settings, load_settings
from condolake.console import PACKAGE_LOGGER, error, show_progress
from condolake.errors import CondoLakeError

RESULTS = Path("benchmarks/results")

app = typer.Typer(
    name="bench",
    help="Benchmarks of CondoLake (results in benchmarks/results/).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Seed = Annotated[int, typer.Option(help="seed of the generated source")]
Output = Annotated[Path, typer.Option(help="folder of the Markdown and JSON reports")]


def _run(job: Callable[[Settings], object]) -> None:
    """Load the settings and run one benchmark; a CondoLake error is one line and exit 1."""
    show_progress(PACKAGE_LOGGER, "benchmarks")
    try:
        job(load_settings())
    except CondoLakeError as failure:
        error(str(failure))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        error("interrupted")
        raise typer.Exit(130) from None


@app.command()
def batch(
    scale: Annotated[float, typer.Option(help="size of the generated source")] = 1.0,
    seed: Seed = 42,
    output: Output = RESULTS,
) -> None:
    """COPY and DuckDB baselines against `condolake batch`."""
    from benchmarks.batch import run_batch_benchmark

    _run(lambda settings: run_batch_benchmark(settings, scale=scale, seed=seed,
                                              output_dir=output))


@app.command()
def stream(
    scale: Annotated[float, typer.Option(help="size of the generated source")] = 0.01,
    events: Annotated[int, typer.Option(help="backlog for the throughput phase")] = 200_000,
    rate: Annotated[float, typer.Option(help="events per second in the latency phase")] = 1000.0,
    duration: Annotated[float, typer.Option(metavar="SECONDS",
                                            help="production time of the latency phase")] = 60.0,
    trigger: Annotated[float, typer.Option(metavar="SECONDS",
                                           help="trigger interval of the latency phase")] = 2.0,
    seed: Seed = 42,
    output: Output = RESULTS,
) -> None:
    """Kafka -> gold throughput and end-to-end latency, next to a plain Kafka consumer."""
    from benchmarks.stream import run_stream_benchmark

    _run(lambda settings: run_stream_benchmark(
        settings, scale=scale, events=events, rate=rate, duration_s=duration,
        trigger_s=trigger, seed=seed, output_dir=output))


@app.command()
def serve(
    scale: Annotated[float, typer.Option(help="size of the generated source behind gold")] = 10.0,
    clients: Annotated[int, typer.Option(help="concurrent HTTP clients")] = 50,
    duration: Annotated[float, typer.Option(metavar="SECONDS",
                                            help="measured time per phase")] = 30.0,
    seed: Seed = 42,
    output: Output = RESULTS,
) -> None:
    """REST API latency (p50/p95/p99) under concurrent clients, next to in-process reads."""
    from benchmarks.serve import run_serve_benchmark

    _run(lambda settings: run_serve_benchmark(
        settings, scale=scale, seed=seed, clients=clients, duration_s=duration,
        output_dir=output))


@app.command()
def cdc(
    scale: Annotated[float, typer.Option(help="size of the generated source")] = 0.01,
    rate: Annotated[float, typer.Option(
        help="events (row changes) per second the generator writes to PostgreSQL")] = 1000.0,
    seconds: Annotated[float, typer.Option(help="how long the generator writes")] = 60.0,
    trigger: Annotated[float, typer.Option(metavar="SECONDS",
                                           help="trigger interval of the stream")] = 2.0,
    seed: Seed = 42,
    output: Output = RESULTS,
) -> None:
    """Commit -> visible in gold through Debezium (p50/p95/p99), next to commit -> Kafka."""
    from benchmarks.cdc import run_cdc_benchmark

    _run(lambda settings: run_cdc_benchmark(
        settings, scale=scale, rate=rate, seconds=seconds, trigger_s=trigger, seed=seed,
        output_dir=output))
