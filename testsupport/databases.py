"""The test database as a DATABASE_URL, for the processes a test starts (manage.py, gunicorn)."""

from urllib.parse import quote

from django.db import connection


def running_test_database_url() -> str:
    """The database the tests run on (call it once the test database exists: django_db_setup). A Unix
    socket directory as the host is percent-encoded, as dj-database-url expects."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = quote(db["HOST"] or "", safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"
