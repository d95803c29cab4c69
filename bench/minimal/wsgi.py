"""gunicorn bench.minimal.wsgi -c bench/minimal/gunicorn.conf.py (bench/run.py starts it)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.minimal.settings")

application = get_wsgi_application()
