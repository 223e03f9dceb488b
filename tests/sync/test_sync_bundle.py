"""The USB route: kiosk events to the office on a stick, the office's reply back.

The kiosk is enrolled over loopback once; after that the server process is stopped and
only files travel, through the real ``kiosk`` and ``library-server`` commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kiosk.cli import main as kiosk_main
from kiosk.models import Copy, Event
from sync import replica
from sync.server import models as office_models
from tests.sync.support import KioskUnderTest, Office


@pytest.fixture
def offline(office: Office, make_kiosk) -> KioskUnderTest:
    """A kiosk enrolled and synced once; then the network is gone."""
    kiosk = make_kiosk("kiosk-usb")
    kiosk.client.enroll(office.url, office.enroll_code(), "kiosk-usb")
    kiosk.client.sync()
    office.stop()
    return kiosk


def office_counts(office: Office) -> tuple[int, int, int]:
    database = office.database()
    with database.read() as session:
        counts = tuple(
            session.scalar(select(func.count()).select_from(table))
            for table in (office_models.Event, office_models.Loan, office_models.Conflict)
        )
    database.close()
    return counts  # type: ignore[return-value]


def test_round_trip_by_usb_stick(
    office: Office, offline: KioskUnderTest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = offline
    kiosk.lend("S1", "B001", "B002")
    (tmp_path / "new.csv").write_text("barcode,title\nUSB1,Came By Stick\n", encoding="utf-8")
    office.ok("import-books", str(tmp_path / "new.csv"))
    stick = tmp_path / "stick"
    stick.mkdir()
    bundle = stick / "kiosk-usb.json"

    assert kiosk_main(["--data", str(kiosk.folder), "export-bundle", str(bundle)]) == 0
    with kiosk.store.read() as db:
        waiting = replica.status(db).pending
    assert f"{waiting} events written" in capsys.readouterr().out

    out = office.ok("import-bundle", str(bundle))
    reply = stick / "kiosk-usb.reply.json"
    assert f"{waiting} new events stored" in out and str(reply) in out
    loans = [json.loads(line) for line in office.ok("loans", "--json").splitlines()]
    assert sorted(loan["copy"] for loan in loans) == ["B001", "B002"]

    # The same stick read twice at the office: nothing changes.
    before = office_counts(office)
    assert "0 new events stored" in office.ok("import-bundle", str(bundle))
    assert office_counts(office) == before

    assert kiosk_main(["--data", str(kiosk.folder), "import-bundle", str(reply)]) == 0
    assert f"{waiting} events acknowledged" in capsys.readouterr().out
    with kiosk.store.read() as db:
        assert replica.status(db).pending == 0
        assert db.scalar(select(Copy).where(Copy.barcode == "USB1")) is not None
    # And the reply applied twice on the kiosk: nothing changes either.
    assert kiosk_main(["--data", str(kiosk.folder), "import-bundle", str(reply)]) == 0
    assert "0 events acknowledged, 0 changes applied" in capsys.readouterr().out


def test_tampered_bundles_are_refused_and_change_nothing(
    office: Office, offline: KioskUnderTest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = offline
    kiosk.lend("S1", "B001")
    bundle = tmp_path / "out.json"
    assert kiosk_main(["--data", str(kiosk.folder), "export-bundle", str(bundle)]) == 0
    content = json.loads(bundle.read_text())
    checkout = next(e for e in content["events"] if e["type"] == "checkout")
    checkout["payload"]["patron"] = "S2"  # someone else's name on the loan
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(content))
    before = office_counts(office)
    code, _out, err = office.command("import-bundle", str(forged))
    assert code == 1 and "signature does not match" in err
    assert office_counts(office) == before
    assert not (tmp_path / "forged.reply.json").exists()

    for garbage, why in ((b"\x00\x01", "not a Library Kiosk bundle"), (b"{}", "not a Library")):
        (tmp_path / "junk.json").write_bytes(garbage)
        code, _out, err = office.command("import-bundle", str(tmp_path / "junk.json"))
        assert code == 1 and why in err

    # A genuine bundle, then a reply altered on its way back to the kiosk.
    office.ok("import-bundle", str(bundle))
    reply = tmp_path / "out.reply.json"
    content = json.loads(reply.read_text())
    content["ack"]["highest_seq"] += 100
    reply.write_text(json.dumps(content))
    with kiosk.store.read() as db:
        acked_before = db.scalar(select(func.count()).where(Event.acked_at.is_not(None)))
    assert kiosk_main(["--data", str(kiosk.folder), "import-bundle", str(reply)]) == 1
    assert "signature does not match" in capsys.readouterr().err
    with kiosk.store.read() as db:
        assert db.scalar(select(func.count()).where(Event.acked_at.is_not(None))) == acked_before


def test_a_revoked_kiosks_bundle_is_refused(
    office: Office, offline: KioskUnderTest, tmp_path: Path
) -> None:
    offline.lend("S1", "B001")
    bundle = tmp_path / "out.json"
    assert kiosk_main(["--data", str(offline.folder), "export-bundle", str(bundle)]) == 0
    office.ok("revoke", "kiosk-usb")
    before = office_counts(office)
    code, _out, err = office.command("import-bundle", str(bundle))
    assert code == 1 and "revoked" in err
    assert office_counts(office) == before


def test_office_exports_a_full_copy_for_a_kiosk(
    office: Office, offline: KioskUnderTest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "new.csv").write_text("barcode,title\nFULL1,Whole Catalogue\n")
    office.ok("import-books", str(tmp_path / "new.csv"))
    path = tmp_path / "full.json"
    assert "changes to" in office.ok("export-bundle", "kiosk-usb", str(path))
    assert kiosk_main(["--data", str(offline.folder), "import-bundle", str(path)]) == 0
    with offline.store.read() as db:
        assert db.scalar(select(Copy).where(Copy.barcode == "FULL1")) is not None


@pytest.mark.parametrize(
    ("where", "said"),
    [
        ("missing/kiosk-usb.json", "missing: No such file or directory"),
        ("/sys/kiosk-usb.json", "/sys/kiosk-usb.json: "),  # a folder nobody may write in
    ],
    ids=["missing-folder", "read-only"],
)
def test_export_to_a_stick_that_is_not_there_says_so(
    offline: KioskUnderTest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    where: str,
    said: str,
) -> None:
    offline.lend("S1", "B001")
    bundle = tmp_path / where
    assert kiosk_main(["--data", str(offline.folder), "export-bundle", str(bundle)]) == 1
    err = capsys.readouterr().err
    assert said in err and "is the USB stick in, and not locked?" in err
    assert not bundle.with_name(bundle.name + ".partial").exists()
    with offline.store.read() as db:
        assert replica.status(db).pending > 0  # nothing counts as sent
