"""Airflow orchestration: DAG files in `dags/` wire tasks to the functions in `tasks`.

Point Airflow's `[core] dags_folder` (AIRFLOW__CORE__DAGS_FOLDER) at `DAGS_FOLDER`, the
`dags/` directory of the installed package. Nothing here imports Airflow except the DAG
files and `callbacks` (only its type hints), so the package works without the extra.
"""

from __future__ import annotations

from pathlib import Path

DAGS_FOLDER = Path(__file__).resolve().parent / "dags"
