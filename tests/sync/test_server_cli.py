"""The office's command line as a librarian or a school's IT teacher first meets it."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

from sync.server.db import database_url
from tests.sync.support import Office, free_port


def test_serve_prints_addresses_a_kiosk_can_use(tmp_path: Path) -> None:
    port = free_port()
    data = str(tmp_path / "office")
    server = subprocess.Popen(  # --data after the command works too
        [sys.executable, "-m", "sync.server.cli", "serve", "--port", str(port), "--data", data],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        said = [server.stdout.readline() for _ in range(3)]
        reach = next(line for line in said if "kiosks reach this office at" in line)
        assert "0.0.0.0" not in reach
        urls = re.findall(r"http://([^\s:]+):(\d+)", reach)
        assert urls and all(p == str(port) for _, p in urls)
        addresses = [host for host, _ in urls if _is_address(host)]
        assert addresses, reach  # at least one address, not only a name
        enroll = next(line for line in said if "kiosk enroll" in line)
        assert f"`kiosk enroll {addresses[0]}:{port} CODE`" in enroll
        for address in addresses:  # each one printed answers
            _wait_for(f"http://{address}:{port}/openapi.json")
    finally:
        server.terminate()
        server.wait(30)


def test_listings_say_when_there_is_nothing(office: Office) -> None:
    assert office.ok("conflicts").strip() == "no conflicts: everything the kiosks reported fitted"
    assert office.ok("loans").strip() == "no books are on loan"
    assert office.ok("conflicts", "--json") == ""  # JSON lines: none is no line


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _wait_for(url: str) -> None:
    # Patient: on a busy machine the server may still be starting, or slow to answer.
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(url, timeout=10).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def test_a_new_school_year_is_shown_first_and_done_only_when_asked(tmp_path: Path, library) -> None:
    data = tmp_path / "office"
    office = library(data, database_url(data, None))  # 3-1: two, 5-2: one, 6-1: a helper

    shown = office.ok("new-school-year")
    assert re.search(r"3-1\s+-> 4-1\s+2 students", shown)
    assert "leavers (grade 6): 1" in shown and "nothing changed yet" in shown
    assert office.ok("new-school-year") == shown  # looking changes nothing

    done = office.ok("new-school-year", "--yes")
    assert "done: 3 moved up a grade, 1 leavers deactivated" in done
    assert "WARNING: the classes were already moved up on" in office.ok("new-school-year")
