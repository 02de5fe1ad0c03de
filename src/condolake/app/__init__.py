"""The application layer: what the command line and the Airflow tasks run.

`Resources.from_settings` decides once which services are embedded (started by the project)
and which are external (CONDOLAKE_* settings); the jobs are plain functions of the resources
(the run jobs with an explicit run date). Imports go downward only: `cli/` and
`orchestration/` import this package, nothing below it does.
"""
