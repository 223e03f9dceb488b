"""Files a librarian uploads to import (a class list, a book list), kept between the preview
and the confirmation.

An import is shown first and done only when confirmed: the file waits here under a random name
that the confirmation form carries, in a folder only the server's user can read (class lists
hold children's names). It is removed once imported, and any left waiting after a day.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from fastapi import UploadFile

from sync.server.services import N_, Refusal

FOLDER = Path(tempfile.gettempdir()) / "library-office-uploads"
MAX_BYTES = 50 * 2**20
KEPT_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")


def keep(upload: UploadFile) -> str:
    """Save *upload* under its own name (what the librarian reads in messages about it); the
    token that finds it again."""
    FOLDER.mkdir(mode=0o700, exist_ok=True)
    _forget_old()
    token = secrets.token_urlsafe(16)
    (FOLDER / token).mkdir(mode=0o700)
    name = Path(upload.filename or "").name.strip(". ") or "upload"
    size = 0
    with (FOLDER / token / name[-100:]).open("wb") as out:
        while chunk := upload.file.read(2**20):
            size += len(chunk)
            if size > MAX_BYTES:
                out.close()
                forget(token)
                raise Refusal(N_("That file is over 50 MB: is it the right one?"))
            out.write(chunk)
    if size == 0:
        forget(token)
        raise Refusal(N_("Choose a file first (CSV or Excel)."))
    return token


def path_of(token: str) -> Path:
    """The file kept under *token*; refused when it is gone (imported, or too old)."""
    files = list((FOLDER / token).glob("*")) if _TOKEN.match(token) else []
    if len(files) != 1:
        raise Refusal(N_("That file is no longer here: choose it again."))
    return files[0]


def forget(token: str) -> None:
    if _TOKEN.match(token):
        shutil.rmtree(FOLDER / token, ignore_errors=True)


def _forget_old() -> None:
    too_old = time.time() - KEPT_SECONDS
    for path in FOLDER.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another server took it first
            if path.stat().st_mtime < too_old:
                shutil.rmtree(path, ignore_errors=True)
