"""Folders and files only kefu's own user may read: the state folder holds the access token."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """path as a folder that only this user can enter; an existing one is tightened.

    Missing parents are created private too (mkdir's parents=True would leave them open).
    """
    for folder in reversed([path, *path.parents]):
        if not folder.exists():
            folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
    _tighten(path, FOLDER_MODE)
    return path


def private_file(path: Path) -> Path:
    """path as a file that only this user can read, created empty when missing.

    SQLite gives its -wal and -shm files the database file's mode, so creating the database
    this way keeps them private too.
    """
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE))
    _tighten(path, FILE_MODE)
    return path


def private_database(folder: Path, name: str) -> Path:
    """folder/name as an SQLite file of kefu's alone, in a folder of kefu's alone.

    Every embedded store (state, statistics, reply queue) opens its database through this.
    """
    return private_file(private_folder(folder) / name)


def replace_privately(path: Path, data: bytes) -> None:
    """Write data to path in one atomic step, as a private file in a private folder."""
    private_folder(path.parent)
    # A unique temporary name (mode 0600), since several workers may write at once.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _tighten(path: Path, mode: int) -> None:
    try:
        if path.stat().st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except OSError as exc:  # owned by someone else: say so, the operator must fix it
        log.warning("cannot make %s private (mode %o): %s", path, mode, exc.strerror or exc)
