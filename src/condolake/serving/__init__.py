"""Serving layer: the REST API and dashboard over the gold tables, and the SQL endpoint."""
