"""The WSGI app gunicorn loads: `gunicorn -c config/gunicorn.conf.py entrypoints.wsgi:app`."""

from entrypoints.service.bootstrap import build_service

service = build_service()
app = service.app
