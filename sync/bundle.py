"""USB bundles for schools without a network: a kiosk's events out, the office's reply back.

A bundle is a JSON file signed with an HMAC whose key only the kiosk and its office can
compute (from the kiosk's token); a changed byte makes it refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from kiosk import __version__, settings
from kiosk.store import Store, get_setting, set_setting
from sync import replica, wire

FORMAT = "library-kiosk-bundle/1"
EVENTS = TypeAdapter(list[wire.WireEvent])


class BundleError(Exception):
    """The bundle cannot be used (not a bundle, another kiosk's, tampered with); nothing changed."""


def key_for_token_hash(token_hash: str) -> bytes:
    return token_hash.encode("ascii")


def key_for_token(token: str) -> bytes:
    return key_for_token_hash(hashlib.sha256(token.encode()).hexdigest())


def _canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(key: bytes, content: dict[str, Any]) -> dict[str, Any]:
    return {**content, "signature": hmac.new(key, _canonical(content), hashlib.sha256).hexdigest()}


def verify(key: bytes, bundle: dict[str, Any]) -> dict[str, Any]:
    content = {k: v for k, v in bundle.items() if k != "signature"}
    expected = hmac.new(key, _canonical(content), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(bundle.get("signature", ""))):
        raise BundleError("the bundle's signature does not match: it was changed or is not ours")
    return content


def read(path: Path) -> dict[str, Any]:
    try:
        bundle = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BundleError(f"{path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: not a Library Kiosk bundle ({exc})") from exc
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise BundleError(f"{path}: not a Library Kiosk bundle")
    if not isinstance(bundle.get("kiosk_id"), int):
        raise BundleError(f"{path}: the bundle names no kiosk")
    return bundle


def write(path: Path, bundle: dict[str, Any]) -> None:
    """Write the whole file or nothing (a USB stick may be pulled out at any moment)."""
    path = Path(path)
    temp = path.with_name(path.name + ".partial")
    try:
        with open(temp, "w", encoding="utf-8") as f:
            json.dump(bundle, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):  # no half file left to be taken for a whole one
            temp.unlink(missing_ok=True)
        raise


# -- the kiosk's side ------------------------------------------------------------------------


def export_events(store: Store, path: Path, now: dt.datetime) -> int:
    """Write the events the office has not acknowledged to *path*; return how many."""
    token = replica.load_token(store)
    with store.read() as db:
        kiosk_id = int(get_setting(db, settings.KIOSK_ID) or 0)
        start = replica.first_unacked(db) or replica.last_seq(db) + 1
        events = replica.events_from(db, start, None)
        acked_seq, acked_proof = replica.last_acknowledgement(db)
        content = {
            "format": FORMAT,
            "kind": "events",
            "kiosk_id": kiosk_id,
            "created_at": now.isoformat(),
            "acked_seq": acked_seq,
            "acked_proof": acked_proof,
            "waiting": len(events),
            "version": __version__,
            "events": [e.model_dump(mode="json") for e in events],
            "cursor": get_setting(db, settings.CURSOR) or None,
        }
    try:
        write(path, sign(key_for_token(token), content))
    except OSError as exc:
        where = path.parent if exc.errno == errno.ENOENT else path
        raise BundleError(
            f"cannot write {where}: {exc.strerror} (is the USB stick in, and not locked?)"
        ) from exc
    return len(events)


def import_reply(store: Store, path: Path, today: dt.date) -> tuple[int, int]:
    """Apply the office's reply bundle: acknowledgements and changes; (acked, changes applied)."""
    bundle = read(path)
    token = replica.load_token(store)
    content = verify(key_for_token(token), bundle)
    if content.get("kind") != "reply":
        raise BundleError(f"{path}: this is a kiosk's bundle for the office, not its reply")
    try:
        ack = wire.PushReply.model_validate(content["ack"]) if content.get("ack") else None
        page = wire.ChangesPage.model_validate(content["changes"])
    except (KeyError, ValidationError) as exc:
        raise BundleError(f"{path}: the reply is incomplete ({exc})") from exc
    with store.write() as db:
        if str(content["kiosk_id"]) != (get_setting(db, settings.KIOSK_ID) or ""):
            raise BundleError(f"{path}: this reply is for another kiosk")
        acked = (
            replica.acknowledge(db, ack.highest_seq, ack.server_time, None, ack.ack_proof)
            if ack
            else 0
        )
        current_db, current_v = wire.split_cursor(get_setting(db, settings.CURSOR))
        reply_db, reply_v = wire.split_cursor(page.cursor)
        if current_db == reply_db and current_v >= reply_v:
            return acked, 0  # this kiosk already has these changes (or newer ones)
        try:
            replica.apply_changes(db, page.changes, today)
        except replica.PageError as exc:
            raise BundleError(f"{path}: the reply's changes cannot be applied ({exc})") from exc
        set_setting(db, settings.CURSOR, page.cursor)
    return acked, len(page.changes)


def events_of(content: dict[str, Any]) -> list[wire.WireEvent]:
    try:
        return EVENTS.validate_python(content.get("events"))
    except ValidationError as exc:
        raise BundleError(f"the bundle's events are not valid: {exc}") from exc
