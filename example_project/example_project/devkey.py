"""A development encryption key kept in a git-ignored file, so the demo needs no setup.

Production sets ``APIAUTH_ENCRYPTION_KEYS``; the ``shop.W001`` system check
says so whenever this file is in use.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet


def load_or_create(path: Path) -> str:
    """The key stored in ``path``, generated (readable by the owner only) if missing."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = Fernet.generate_key().decode("ascii")
    try:
        # O_EXCL: when two processes start at once, the second one reads the first's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
