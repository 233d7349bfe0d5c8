"""A development encryption key kept in a git-ignored file, so the demo needs no setup.

Production sets ``APIAUTH_ENCRYPTION_KEYS``; the ``shop.W001`` system check
says so whenever this file is in use.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet


def load_or_create(path: Path) -> str:
    """The key stored in ``path``, generated (readable by the owner only) if missing."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    key = Fernet.generate_key().decode("ascii")
    # Written in full to a private temporary file, then published with link(),
    # which fails if the name exists: when several processes start at once,
    # exactly one key wins and nobody ever reads a half-written file.
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    try:
        os.link(scratch, path)
    except FileExistsError:
        key = _read(path)
    finally:
        os.unlink(scratch)
    return key


def _read(path: Path) -> str:
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to generate a new development key")
    return key
