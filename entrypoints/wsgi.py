"""The WSGI app gunicorn loads: `gunicorn -c config/gunicorn.conf.py entrypoints.wsgi:app`."""

from entrypoints.bootstrap import build_app

app = build_app()
