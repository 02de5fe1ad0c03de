"""What every benchmark report shares: Markdown tables and sections, the machine, JSON without
NaN or infinity, and writing the two files (pure helpers, plus one writer)."""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.model import Machine

log = logging.getLogger(__name__)

Section = list[str]


def seconds_text(value: float) -> str:
    return f"{value:.2f}"


def load_text(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def scale_label(scale: float) -> str:
    """1.0 -> "1", 0.1 -> "0.1": as it appears in file names and titles."""
    return f"{scale:g}"


def markdown_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


Load = tuple[float, float, float]


def machine_section(machine: Machine, *, during: tuple[str, Load] | None = None,
                    extra: Sequence[tuple[str, str]] = ()) -> Section:
    """CPU, RAM and the load average before (and `during`, when given) and after the run, then
    the benchmark's own rows."""
    loads = [("load average 1/5/15 min, before", load_text(machine.load_before))]
    if during is not None:
        loads.append((f"load average 1/5/15 min, {during[0]}", load_text(during[1])))
    loads.append(("load average 1/5/15 min, after", load_text(machine.load_after)))
    return ["## Machine", "", *markdown_table(("", ""), [
        ("CPU", f"{machine.cpu_count} × {machine.cpu_model}"),
        ("RAM", f"{machine.ram_gib:.1f} GiB"),
        *loads,
        *extra,
    ])]


def versions_section(rows: Sequence[tuple[str, str]]) -> Section:
    return ["## Versions", "", *markdown_table(("component", "version"), rows)]


def notes_section(notes: Sequence[str]) -> Section:
    return ["## Notes", "", *[f"* {note}" for note in notes]] if notes else []


def render(title: str, sections: Sequence[Section]) -> str:
    """The whole report: the title, then every non-empty section, separated by a blank line,
    ending in a newline."""
    parts = [[title], *sections]
    return "\n\n".join("\n".join(section) for section in parts if section) + "\n"


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity: those become null, everything else stays."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def json_text(document: dict[str, Any]) -> str:
    return json.dumps(finite(document), indent=2, ensure_ascii=False) + "\n"


def write_report(output_dir: Path, stem: str, *, markdown: str, json_document: str) -> Path:
    """`<stem>.json` and `<stem>.md` in `output_dir`; the Markdown is also printed."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{stem}.json").write_text(json_document, encoding="utf-8")
    (output_dir / f"{stem}.md").write_text(markdown, encoding="utf-8")
    log.info(f"results written to {output_dir / stem}.json and .md")
    sys.stdout.write(markdown)
    return output_dir / stem
