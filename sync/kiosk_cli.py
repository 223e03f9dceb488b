"""The kiosk's sync commands: ``kiosk enroll``, ``kiosk sync``, ``kiosk export-bundle`` ..."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `kiosk run` parses its arguments before the store is loaded
    from kiosk.config import KioskConfig
    from kiosk.store import Store
    from sync import replica
    from sync.client import SyncThread


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    enroll = commands.add_parser("enroll", help="join the office server with a one-time code")
    enroll.add_argument(
        "url", help="the office's address as `library-server serve` prints it, e.g. office-pc:8470"
    )
    enroll.add_argument("code", help="the code printed by `library-server enroll-code`")
    commands.add_parser("sync", help="sync with the office now, printing what moved")
    commands.add_parser("sync-status", help="events waiting, last sync, clock offset")
    export = commands.add_parser("export-bundle", help="write unsynced events for a USB stick")
    export.add_argument("path")
    imp = commands.add_parser("import-bundle", help="apply the office's reply from a USB stick")
    imp.add_argument("file")


COMMANDS = ("enroll", "sync", "sync-status", "export-bundle", "import-bundle")


def run(store: Store, cfg: KioskConfig, args: argparse.Namespace) -> int:
    from kiosk.clock import utc_now
    from sync import bundle, replica
    from sync.client import SyncError  # requests is loaded only for the sync commands

    try:
        match args.command:
            case "enroll":
                from sync.client import SyncClient, office_url

                kiosk_id = SyncClient(store).enroll(args.url, args.code, cfg.kiosk.name)
                print(
                    f"enrolled as kiosk {kiosk_id} of {office_url(args.url)}; "
                    "run `kiosk sync` to pull"
                )
            case "sync":
                return _sync(store)
            case "sync-status":
                with store.read() as db:
                    state = replica.status(db)
                print(_describe(state))
            case "export-bundle":
                count = bundle.export_events(store, Path(args.path), utc_now())
                print(f"{count} events written to {args.path}; take it to the office")
            case "import-bundle":
                acked, changes = bundle.import_reply(store, Path(args.file), utc_now().date())
                print(f"{acked} events acknowledged, {changes} changes applied")
    except (replica.NotEnrolled, bundle.BundleError, SyncError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    return 0


def start_background_sync(store: Store) -> SyncThread | None:
    """The sync thread for ``kiosk run``, if the kiosk is enrolled; it never delays a scan."""
    from sync import replica

    with store.read() as db:
        if not replica.status(db).enrolled:
            return None
    from sync.client import SyncClient, SyncThread

    return SyncThread(SyncClient(store)).start()


def _sync(store: Store) -> int:
    from tqdm import tqdm

    from sync import replica
    from sync.client import SyncClient

    bar: tqdm | None = None  # type: ignore[type-arg]

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and total > 2000:  # a bar only for a big pull (a first sync)
            bar = tqdm(total=total, unit="changes", file=sys.stderr)
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    try:
        report = SyncClient(store).sync(progress)
    finally:
        if bar is not None:
            bar.close()
    print(report.summary())
    for conflict in report.conflicts:
        print(f"  conflict: {conflict.kind}: {conflict.detail}")
    if report.gaps:
        print(f"  the office misses events {report.gaps}: they are sent again next time")
    with store.read() as db:
        print(_describe(replica.status(db)))
    return 0


def _describe(state: replica.SyncStatus) -> str:
    if not state.enrolled:
        return f"not enrolled; {state.pending} events waiting"
    last = state.last_sync.strftime("%Y-%m-%d %H:%M:%S") if state.last_sync else "never"
    text = f"office {state.office}: {state.pending} events waiting, last sync {last}"
    if state.clock_warning:
        text += f"; WARNING: {state.clock_warning}"
    if state.last_error:
        text += f"; last error: {state.last_error}"
    return text
