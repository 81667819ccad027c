"""Shared kernel: settings, database, errors, ids, time. Imports nothing else of ours."""
