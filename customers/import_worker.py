"""Where the import's worker processes start (customers.importer.CheckProcesses). A spawned process unpickles
its target before anything else, so this module imports nothing of Django's or ours: it ties the process to
its parent's life first, then sets Django up with the parent's settings and keys, then runs the checks."""

import ctypes
import os
import queue
import signal
from dataclasses import dataclass
from typing import Any

PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs of its parent: the settings module and the keys in force (a test may have
    changed them), the merchant and mode, and the parent's pid (to exit with it)."""

    settings_module: str
    overrides: dict[str, Any]
    merchant_id: int
    livemode: bool
    parent_pid: int


def run(setup: WorkerSetup, tasks, results) -> None:
    exit_with_parent(setup.parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C reaches the whole group: the importer stops us
    os.environ["DJANGO_SETTINGS_MODULE"] = setup.settings_module
    import django
    from django.conf import settings

    django.setup()
    for name, value in setup.overrides.items():
        setattr(settings, name, value)
    from customers.importer import check_worker

    check_worker(setup, tasks, results)


def exit_with_parent(parent_pid: int) -> None:
    """The kernel kills this process when its parent dies (Linux); elsewhere next_task's check alone."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)


def next_task(tasks, parent_pid: int):
    """The next task, waiting for it; exits when the parent is gone."""
    while True:
        try:
            return tasks.get(timeout=1)
        except queue.Empty:
            if os.getppid() != parent_pid:
                os._exit(1)
