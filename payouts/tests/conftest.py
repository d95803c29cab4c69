from events.tests.conftest import receiver  # noqa: F401 (a fixture: a real webhook receiver on 127.0.0.1)
