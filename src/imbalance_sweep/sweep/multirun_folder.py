"""The folder a multirun keeps Hydra's record in (``hydra.sweep.dir``) under ``outputs=none``: removed
at the multirun's end only when this project created it, and then only what Hydra wrote there.

A folder the project creates gets a marker file; a folder without the marker (a user's folder named
in ``hydra.sweep.dir``) is never touched. Removal goes file by file, relative to an open directory
that is no symlink, and never follows a symlink: anything it does not know stays, with the folder.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

MARKER = ".imbalance-sweep-multirun"
MARKER_TEXT = "Created by imbalance-sweep for a multirun's record (outputs=none); removed when it ends.\n"
# What Hydra writes into a multirun's folder: its record, and per job a folder that may hold the
# job's config files (hydra.output_subdir).
RECORD = "multirun.yaml"
JOB_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")
_OPEN_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def claim(folder: str | os.PathLike) -> bool:
    """Create ``folder`` with the marker in it; False (nothing done) when it exists already."""
    path = Path(folder)
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        return False
    descriptor = os.open(path / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "w") as marker:
        marker.write(MARKER_TEXT)
    return True


def _is_marker(directory: int) -> bool:
    try:
        found = os.stat(MARKER, dir_fd=directory, follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode)


def _clear(directory: int, *, top: bool) -> bool:
    """Remove Hydra's files and the empty job folders under ``directory``; True if nothing else is left
    (the marker aside)."""
    left = False
    with os.scandir(directory) as entries:
        names = [
            (entry.name, entry.is_dir(follow_symlinks=False), entry.is_file(follow_symlinks=False))
            for entry in entries
        ]
    for name, is_dir, is_file in names:
        if top and name == MARKER and is_file:
            continue
        hydras = name == RECORD if top else name in JOB_FILES
        if is_file and hydras:
            os.unlink(name, dir_fd=directory)
        elif is_dir:
            try:
                inner = os.open(name, _OPEN_DIRECTORY, dir_fd=directory)
            except OSError:
                left = True
                continue
            try:
                emptied = _clear(inner, top=False)
            finally:
                os.close(inner)
            if emptied:
                os.rmdir(name, dir_fd=directory)
            left = left or not emptied
        else:
            left = True
    return not left


def remove_if_own(folder: str | os.PathLike) -> bool:
    """Remove ``folder`` if it holds the marker and only what Hydra wrote; True if it is gone.

    A folder without the marker, or reached through a symlink, is left as it is; a file Hydra did
    not write is left, and with it the folder and its marker (so a later run can still tell)."""
    try:
        directory = os.open(folder, _OPEN_DIRECTORY)
    except OSError:
        return False
    try:
        if not _is_marker(directory) or not _clear(directory, top=True):
            return False
        os.unlink(MARKER, dir_fd=directory)
    finally:
        os.close(directory)
    with contextlib.suppress(OSError):  # something arrived meanwhile: the folder stays
        os.rmdir(folder)
        return True
    return False
