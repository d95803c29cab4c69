"""Production settings for gunicorn, read from the working directory: `gunicorn payoutsite.wsgi` is enough.

Anything here can be overridden on the command line (`gunicorn payoutsite.wsgi -b 127.0.0.1:9000 -w 1`),
which gunicorn applies after this file. The environment variables below are the knobs a platform sets.
"""

import os
import secrets

from payoutsite.http_server import install

# Requests gunicorn refuses itself (bad header, URI too long, ...) answer the API's JSON error body.
install()

wsgi_app = "payoutsite.wsgi:application"  # so a bare `gunicorn` works too

# DEBUG without SECRET_KEY: the settings make up a key, and each worker reads the settings itself (no
# preload), so each would sign sessions with its own and staff would be logged out whenever a request
# landed on another worker. One key for this server and all its workers, made here in the master before
# they are forked (they inherit its environment); a restart makes a new one, as a development key should.
if os.environ.get("DEBUG", "").lower() in {"1", "true", "yes", "on"} and not os.environ.get("SECRET_KEY"):
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)

# PORT: the port to listen on, on every interface (the platform's load balancer is in front).
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# Sync workers: each request holds one worker, so concurrency is the worker count. 2 x cores + 1 keeps the
# CPU busy while some workers wait on PostgreSQL. The app is not preloaded: each worker opens its own
# database connections and runs the encryption key check itself.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * len(os.sched_getaffinity(0)) + 1))

# A worker silent for WEB_TIMEOUT seconds is killed and replaced (a stuck request must not hold it
# forever); on a restart or shutdown, requests in flight get graceful_timeout seconds to finish.
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5  # behind a load balancer that reuses connections (the sync worker ignores it)

# Restart each worker after about this many requests (jitter: not all at once), bounding any slow leak.
max_requests = 10_000
max_requests_jitter = 1_000

# gunicorn's own limits, kept explicit: they are the 414 uri_too_long and 431 headers_too_large errors.
limit_request_line = 4094  # bytes in the request line (method, URI, version)
limit_request_fields = 100  # header fields
limit_request_field_size = 8190  # bytes in one header field

# Only these addresses may set X-Forwarded-Proto and friends for wsgi.url_scheme: set FORWARDED_ALLOW_IPS to
# the load balancer's addresses or networks (comma-separated, CIDR allowed).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# No access log of gunicorn's own: the app logs every request it answers (payoutsite.access, with its
# Request-Id: api/middleware.py), and payoutsite.http_server logs each error gunicorn answers itself with the
# Request-Id it sent. gunicorn's line would log every request a second time, at 2-4% of a small request.
accesslog = None
errorlog = "-"  # stderr
