"""Two writers racing, with real threads on PostgreSQL and no sleeps: the first is paused inside its
transaction, right after a statement of the caller's choosing (or as it calls a function of the caller's
choosing); the rival then starts, and the first is let go once the rival waits for a lock (or has finished:
nothing made it wait)."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection, connections
from django.test import Client


def sessions_waiting_on_a_lock() -> int:
    """How many sessions of the test database wait for a lock (a row's, a unique index's, an advisory one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def waiting_on_a_lock() -> bool:
    return sessions_waiting_on_a_lock() > 0


def race(
    first: Callable[[], Any],
    rival: Callable[[], Any],
    *,
    pause_after: str | None = None,
    pause_in: tuple[Any, str] | None = None,
) -> tuple[list, list]:
    """Run first() until it has executed a statement containing `pause_after` (e.g. 'INSERT INTO
    "compliance_assignment"'), or until it calls the function `pause_in` names ((module, name): the first
    call pauses, then runs it), hold it there, run rival() in its own thread, release first() once the rival
    waits on a lock or is done. Returns the results (in the order they finished) and the exceptions raised."""
    assert (pause_after is None) != (pause_in is None), "pause after a statement or in a function"
    paused, go = threading.Event(), threading.Event()

    def hold() -> None:
        if not paused.is_set():
            paused.set()
            assert go.wait(timeout=30)

    def pause(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if pause_after in sql:
            hold()
        return result

    if pause_in is not None:
        module, name = pause_in
        original = getattr(module, name)

        def pausing(*args, **kwargs):
            hold()
            return original(*args, **kwargs)

        setattr(module, name, pausing)
    try:
        return _run(first, rival, pause if pause_after is not None else None, paused, go)
    finally:
        if pause_in is not None:
            setattr(module, name, original)


def _run(first, rival, wrapper, paused: threading.Event, go: threading.Event) -> tuple[list, list]:

    results: list = []
    errors: list[BaseException] = []

    def in_thread(work: Callable[[], Any], paused_here: bool) -> threading.Thread:
        def run():
            try:
                if paused_here and wrapper is not None:
                    with connection.execute_wrapper(wrapper):
                        results.append(work())
                else:
                    results.append(work())
            except BaseException as error:  # asserted by the test
                errors.append(error)
            finally:
                paused.set()  # first() failed before pausing: do not wait for it
                connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    one = in_thread(first, True)
    assert paused.wait(timeout=30)
    two = in_thread(rival, False)
    idle = threading.Event()  # never set: its wait is the poll's 10 ms tick, not a synchronisation
    for _ in range(3000):  # ≤ 30 s, until the rival waits for a lock or is done
        if waiting_on_a_lock() or not two.is_alive() or idle.wait(0.01):
            break
    go.set()
    one.join(timeout=30)
    two.join(timeout=30)
    assert not one.is_alive() and not two.is_alive(), "a racer is stuck"
    return results, errors


def posting_as(user, url: str, data: dict) -> Callable[[], tuple]:
    """A back-office POST by this user, for race(): a Client of its own, no redirect followed. The page it
    redirects to is read after the race (outcomes()): the test client collects the templates every thread
    renders, so a page read during the race may show another thread's messages."""

    def post() -> tuple:
        client = Client()
        client.force_login(user)
        response = client.post(url, data)
        return user.get_username(), response.status_code, client, response.headers.get("Location")

    return post


def outcomes(results: list) -> list[tuple[str, int, list[str]]]:
    """(username, status, messages of the page it redirected to) of each posting_as() result, by username."""
    shown = []
    for username, status, client, location in sorted(results, key=lambda result: result[0]):
        messages = [str(m) for m in client.get(location).context["messages"]] if location else []
        shown.append((username, status, messages))
    return shown
