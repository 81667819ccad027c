"""Data: catalogue, versions, storage, uploads, validation, personal-data scan, grants, job credentials."""
