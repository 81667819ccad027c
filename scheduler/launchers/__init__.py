"""Launchers: one adapter per compute backend behind the small protocol in `base`, created by name
through `registry` ("ray": the local Ray head through Ray's Job Submission API)."""
