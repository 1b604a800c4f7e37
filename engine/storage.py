"""Atomic writes of whole directories: build a temporary sibling, fsync it, swap it in."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def write_directory(path, files: dict[str, bytes]) -> Path:
    """Make `path` a directory holding exactly `files` ({name: content}), atomically.

    A reader sees either the previous directory or the complete new one. Replacing an
    existing directory swaps the two in one step where the OS can (Linux renameat2
    RENAME_EXCHANGE); elsewhere the old one is renamed aside first, so for an instant `path`
    is absent, but never half-written. Concurrent writers each build their own copy; the
    last swap wins.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        for name, content in files.items():
            with open(staging / name, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        fsync_directory(staging)
        _swap_in(staging, path)
        fsync_directory(path.parent)
    finally:
        # after an exchange `staging` holds the previous version; after a failure, the new one
        shutil.rmtree(staging, ignore_errors=True)
    return path


def _swap_in(staging: Path, path: Path) -> None:
    try:
        os.rename(staging, path)  # atomic when `path` does not exist (or is an empty directory)
        return
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR, errno.ENOTDIR):
            raise
    if _exchange(staging, path):
        return
    aside = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-"))
    os.rmdir(aside)
    if path.is_dir() and not path.is_symlink():
        os.rename(path, aside)
    else:
        os.unlink(path)
    os.rename(staging, path)
    shutil.rmtree(aside, ignore_errors=True)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux >= 3.15); False where unsupported."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                       _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(second))


_libc_handle = None


def _libc():
    global _libc_handle
    if _libc_handle is None:
        try:
            _libc_handle = ctypes.CDLL(None, use_errno=True)  # the C library already loaded
            _libc_handle.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                               ctypes.c_char_p, ctypes.c_uint]
        except (OSError, AttributeError):
            _libc_handle = object()
    return _libc_handle


def fsync_directory(directory: Path) -> None:
    """Make created or renamed entries durable: a directory's entries are data too."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
