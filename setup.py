"""Which files the kefu wheel holds: the three packages, and config/ shipped inside entrypoints.

The checkout's config/ folder stays the one source of the gunicorn config, the example rules and
the demo's images; the wheel carries it as the package `entrypoints.config`, and an editable
install maps that package onto config/ itself, so nothing is copied by hand or goes stale.
"""

from setuptools import find_packages, setup

SHIPPED = "entrypoints.config"
# Folders of data only, each listed so that setuptools ships it (and says nothing about it).
DATA = {"entrypoints.preview.static": ["*"], f"{SHIPPED}.demo": ["*.jpg", "*.png"]}

setup(
    packages=[*find_packages(include=["domain*", "adapters*", "entrypoints*"]), SHIPPED, *DATA],
    package_dir={SHIPPED: "config"},
    package_data={SHIPPED: ["gunicorn.conf.py", "rules*.example.json"], **DATA},
)
