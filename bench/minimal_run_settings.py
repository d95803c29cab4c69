"""bench.settings (the production settings, the bare views' routes) plus one more bare view: a payout row.
Used by bench/minimal_run.py for the project's server."""

from bench.settings import *  # noqa: F403

ROOT_URLCONF = "bench.minimal_run_urls"
