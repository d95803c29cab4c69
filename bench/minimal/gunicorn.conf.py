"""gunicorn's defaults for the minimal baseline (sync workers, no access log): given with -c so that the
project's ./gunicorn.conf.py is not read. bench/run.py sets the workers and the address on the command line."""

worker_class = "sync"
