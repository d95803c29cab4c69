"""py-spy on a gunicorn worker of the project under wrk load, one endpoint at a time: where a worker's time goes
end to end, gunicorn's own share (HTTP parsing, access log) included, which bench/profile_request.py does not see.

    pip install py-spy
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/payouts_bench .venv/bin/python -m bench.profile_gunicorn

One sync worker (so one process gets every request), 2 wrk connections, --seconds of samples at 250 Hz
(idle excluded, native frames off). Reported per endpoint: the share of the samples in which a frame is on
the stack (inclusive) and at the top of it (own), top --top of each. Raw stacks: bench/results/pyspy-*.txt.
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import threading
import time

from bench import minimal_run
from bench import run as base

GROUPS = [  # inclusive shares of these frames (function name, file suffix)
    ("gunicorn: whole request (handle_request)", "handle_request", "gunicorn/workers/sync.py"),
    ("gunicorn: HTTP parsing (parser __next__)", "__next__", "gunicorn/http/parser.py"),
    ("gunicorn: access log (Logger.access)", "access", "gunicorn/glogging.py"),
    ("gunicorn: writing the response (Response.write/close)", "write", "gunicorn/http/wsgi.py"),
    ("Django: WSGIHandler.__call__", "__call__", "django/core/handlers/wsgi.py"),
    ("Django: request_started/finished signals", "send", "django/dispatch/dispatcher.py"),
    ("SQL round trips (cursor execute, psycopg2)", "_execute", "django/db/backends/utils.py"),
    ("conn health check (is_usable)", "is_usable", "django/db/backends/postgresql/base.py"),
    ("DRF dispatch", "dispatch", "rest_framework/views.py"),
    ("DRF initial (auth, permissions, negotiation)", "initial", "rest_framework/views.py"),
    ("DRF finalize_response", "finalize_response", "rest_framework/views.py"),
    ("sessions middleware", "process_response", "django/contrib/sessions/middleware.py"),
    ("csrf middleware (process_view)", "process_view", "django/middleware/csrf.py"),
    ("pghistory statement prefix", "_inject_history_context", "pghistory/runtime.py"),
]


def stacks_summary(path: str, top: int) -> str:
    own, inclusive, groups = collections.Counter(), collections.Counter(), collections.Counter()
    total = 0
    with open(path) as raw:
        for line in raw:
            stack, _, count = line.rstrip().rpartition(" ")
            if not stack:
                continue
            samples = int(count)
            total += samples
            frames = stack.split(";")
            own[frames[-1]] += samples
            for frame in set(frames):
                inclusive[frame] += samples
            names = [(frame.split(" (", 1)[0], frame) for frame in frames]
            for label, function, file in GROUPS:
                if any((name == function or name.endswith("." + function)) and file in f for name, f in names):
                    groups[label] += samples
    lines = [f"{total} samples"]
    lines.append("-- groups (inclusive share):")
    lines += [f"  {groups[label] / total:6.1%}  {label}" for label, _, _ in GROUPS if groups[label]]
    lines.append(f"-- top {top} by own samples:")
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines.append(f"-- top {top} by inclusive samples, below gunicorn's request handling:")
    below = [(frame, n) for frame, n in inclusive.most_common() if n < groups[GROUPS[0][0]]]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in below[:top]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(base.Path(sys.executable).with_name("py-spy"))
    base.setup_django()
    data = base.seed()
    port = base.free_port()
    url = f"http://127.0.0.1:{port}"
    endpoints = {
        "post_customers": (f"{url}/customers", base.CUSTOMER_BODY),
        "get_customers": (f"{url}/customers?limit=50", None),
        "post_payouts": (url, lambda: minimal_run.payout_no_key_script("/payouts", data["payees"])),
    }
    keys = {"post_customers": data["write_key"], "get_customers": data["list_key"], "post_payouts": data["write_key"]}
    server = minimal_run.start_server("payoutsite.wsgi", port, 1, {**os.environ, "LOG_LEVEL": "WARNING"})
    out = base.ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    report = []
    try:
        children = base.Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text()
        worker = int(children.split()[0])
        for name, (target, body) in endpoints.items():
            load = threading.Thread(
                target=base.run_wrk,
                args=(target,),
                kwargs={"duration": args.seconds + 3, "connections": 2, "key": keys[name], "post_body": body},
            )
            load.start()
            time.sleep(1.5)
            raw = out / f"pyspy-{name}.txt"
            subprocess.run(
                [py_spy, "record", "-p", str(worker), "-d", str(args.seconds), "-r", "250", "-f", "raw", "-o", raw],
                check=True,
                capture_output=True,
            )
            load.join()
            report.append(f"=== {name}\n{stacks_summary(str(raw), args.top)}")
            print(report[-1], flush=True)
    finally:
        server.terminate()
        server.wait()
    (out / "pyspy.txt").write_text("\n\n".join(report) + "\n")


if __name__ == "__main__":
    main()
