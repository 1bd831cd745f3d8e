"""The files kefu ships inside its package: the checkout's config/ folder, wherever kefu runs.

A wheel holds that folder as the package `entrypoints.config`; an editable install maps the same
package onto config/ itself (setup.py), so both read one set of files.
"""

from importlib.resources import files
from pathlib import Path

CONFIG = Path(str(files("entrypoints.config")))
GUNICORN_CONF = CONFIG / "gunicorn.conf.py"
EXAMPLE_RULES = CONFIG / "rules.example.json"
