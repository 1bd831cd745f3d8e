"""This folder, shipped inside the kefu package as `entrypoints.config` (see setup.py)."""
