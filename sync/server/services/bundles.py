"""The office's side of USB bundles: apply a kiosk's events, write its reply."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from kiosk.clock import utc_now
from sync import bundle, wire
from sync.server.db import Database
from sync.server.models import Kiosk
from sync.server.services.changes import changes_since
from sync.server.services.kiosks import find_kiosk
from sync.server.services.ledger import receive_events

ALL = 10**9  # a reply carries every change the kiosk lacks, in one page


def _kiosk(session: Session, kiosk_id: int) -> Kiosk:
    kiosk = session.get(Kiosk, kiosk_id)
    if kiosk is None:
        raise bundle.BundleError(f"kiosk {kiosk_id} is not enrolled at this office")
    if kiosk.revoked_at is not None:
        raise bundle.BundleError(f"kiosk {kiosk.name} was revoked: its bundles are refused")
    return kiosk


def import_bundle(
    database: Database, path: Path, reply_path: Path | None = None
) -> tuple[Path, wire.PushReply]:
    """Apply a kiosk's bundle exactly as a push, and write its signed reply."""
    raw = bundle.read(path)
    reply_path = reply_path or Path(path).with_name(Path(path).stem + ".reply.json")
    with database.write() as session:
        kiosk = _kiosk(session, raw["kiosk_id"])
        key = bundle.key_for_token_hash(kiosk.token_hash)
        content = bundle.verify(key, raw)
        if content.get("kind") != "events":
            raise bundle.BundleError(f"{path}: this is the office's reply, for the kiosk")
        events = bundle.events_of(content)
        # The bundle travelled for days: the clock offset is the one last measured online.
        reply = receive_events(
            database,
            session,
            kiosk,
            events,
            acked_seq=int(content.get("acked_seq") or 0),
            acked_proof=str(content.get("acked_proof") or ""),
            waiting=len(events),
            offset=kiosk.clock_offset_seconds or 0.0,
            version=_version(content.get("version")),
        )
        page = changes_since(database, session, content.get("cursor"), ALL)
        reply_bundle = bundle.sign(key, _reply(kiosk, reply, page))
    try:
        bundle.write(reply_path, reply_bundle)
    except OSError as exc:  # the events are committed: only the reply is missing
        raise bundle.BundleError(
            f"the events are stored ({reply.stored} new), but the reply for the kiosk could not "
            f"be written to {reply_path} ({exc.strerror}): run import-bundle again with "
            "--reply on a drive that can be written (the events will not be stored twice)"
        ) from exc
    return reply_path, reply


def _version(value: object) -> str | None:
    """The kiosk's software version as its bundle says (a bundle from an older kiosk: none)."""
    if not isinstance(value, str):
        return None
    return "".join(ch for ch in value if ch.isprintable())[:32] or None


def export_for_kiosk(database: Database, session: Session, name_or_id: str, path: Path) -> int:
    """Every change, for a kiosk that has never synced (or lost its copy), without its bundle."""
    kiosk = find_kiosk(session, name_or_id)
    _kiosk(session, kiosk.id)
    page = changes_since(database, session, None, ALL)
    key = bundle.key_for_token_hash(kiosk.token_hash)
    bundle.write(path, bundle.sign(key, _reply(kiosk, None, page)))
    return len(page.changes)


def _reply(kiosk: Kiosk, ack: wire.PushReply | None, page: wire.ChangesPage) -> dict[str, object]:
    return {
        "format": bundle.FORMAT,
        "kind": "reply",
        "kiosk_id": kiosk.id,
        "created_at": utc_now().isoformat(),
        "ack": ack.model_dump(mode="json") if ack else None,
        "changes": page.model_dump(mode="json"),
    }
