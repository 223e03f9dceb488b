"""The pages and the kiosks' API keep their doors apart, and every page needs a session and
every form its CSRF token: checked over HTTP against the real server, for every route of
every area (a page added later is covered without a new test)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from sync.server import web
from sync.server.models import Librarian, LibrarianSession
from sync.server.services.librarians import IDLE
from tests.sync.support import Office
from tests.web.conftest import LIBRARIAN, PASSWORD, csrf_of, serve_office, signed_in_client


@pytest.fixture(scope="module")
def office_server(tmp_path_factory: pytest.TempPathFactory, library) -> Iterator[Office]:
    """One server for the module's tests: each makes its own requests, sessions and names, and
    none counts on what another did or did not do, whatever their order."""
    server = serve_office(tmp_path_factory.mktemp("security") / "office", library)
    yield server
    server.stop()


def area_routes() -> list[tuple[str, str]]:
    """(method, path) of every signed-in page, path parameters filled with a made-up value."""
    found = []
    for area in web.AREAS:
        for route in area.router.routes:
            assert isinstance(route, APIRoute)
            path = route.path.replace("{", "").replace("}", "")
            found += [(method, path) for method in sorted(route.methods)]
    assert ("GET", "/") in found and ("POST", "/librarians") in found
    return found


def librarian_count(office: Office) -> int:
    database = office.database()
    with database.read() as session:
        count = session.scalar(select(func.count()).select_from(Librarian)) or 0
    database.close()
    return count


def test_no_page_opens_without_a_session(office_server: Office) -> None:
    for method, path in area_routes():
        reply = requests.request(
            method, f"{office_server.url}{path}", allow_redirects=False, timeout=30
        )
        assert reply.status_code == 303, (method, path, reply.status_code)
        assert reply.headers["location"].startswith("/login"), (method, path)
    # The sign-in page itself opens, and brings the librarian back where she was going.
    reply = requests.get(f"{office_server.url}/librarians", timeout=30)
    assert reply.url == f"{office_server.url}/login?next=/librarians"
    assert 'name="next" value="/librarians"' in reply.text


def test_every_form_needs_its_csrf_token(office_server: Office) -> None:
    client, token = signed_in_client(office_server)
    before = librarian_count(office_server)
    for method, path in area_routes():
        if method == "GET":
            continue
        for sent in ({}, {"csrf_token": "forged"}):
            reply = client.request(
                method,
                f"{office_server.url}{path}",
                data={**sent, "name": "intruder", "password": "x" * 12, "again": "x" * 12},
                allow_redirects=False,
                timeout=30,
            )
            assert reply.status_code == 403, (method, path, sent, reply.status_code)
    assert librarian_count(office_server) == before
    # The same form with the page's token is taken.
    reply = client.post(
        f"{office_server.url}/librarians",
        data={"csrf_token": token, "name": "helper", "password": "y" * 12, "again": "y" * 12},
        timeout=30,
    )
    assert reply.ok and librarian_count(office_server) == before + 1


def test_signing_in_needs_the_sign_in_pages_token_too(office_server: Office) -> None:
    reply = requests.post(
        f"{office_server.url}/login",
        data={"name": LIBRARIAN, "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert reply.status_code == 403 and "office_session" not in reply.cookies


def test_session_cookie_is_http_only_and_same_site(office_server: Office) -> None:
    client = requests.Session()
    form = client.get(f"{office_server.url}/login", timeout=30)
    reply = client.post(
        f"{office_server.url}/login",
        data={"name": LIBRARIAN, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        allow_redirects=False,
        timeout=30,
    )
    cookie = reply.headers["set-cookie"]
    assert "office_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_a_session_ends_after_idle_time_and_at_sign_out(office_server: Office) -> None:
    client, token = signed_in_client(office_server)
    assert client.get(f"{office_server.url}/librarians", timeout=30).url.endswith("/librarians")
    database = office_server.database()
    with database.write() as session:  # the librarian went home without signing out
        for row in session.scalars(select(LibrarianSession)):
            row.last_seen -= IDLE + dt.timedelta(minutes=1)
    database.close()
    assert "/login" in client.get(f"{office_server.url}/librarians", timeout=30).url

    client, token = signed_in_client(office_server)
    cookie = client.cookies["office_session"]
    client.post(f"{office_server.url}/logout", data={"csrf_token": token}, timeout=30)
    stolen = requests.get(f"{office_server.url}/", cookies={"office_session": cookie}, timeout=30)
    assert "/login" in stolen.url  # the old cookie opens nothing once signed out


@pytest.fixture
def kiosk_token(office_server: Office) -> str:
    code = office_server.enroll_code()
    reply = requests.post(
        f"{office_server.url}/api/v1/enroll", json={"code": code, "name": "kiosk-a"}, timeout=30
    )
    reply.raise_for_status()
    return reply.json()["token"]


def test_pages_refuse_a_kiosk_token(office_server: Office, kiosk_token: str) -> None:
    for method, path in area_routes():
        reply = requests.request(
            method,
            f"{office_server.url}{path}",
            headers={"Authorization": f"Bearer {kiosk_token}"},
            allow_redirects=False,
            timeout=30,
        )
        assert reply.status_code == 303 and reply.headers["location"].startswith("/login")


def test_kiosk_api_refuses_a_librarians_session(office_server: Office) -> None:
    client, _token = signed_in_client(office_server)
    pull = client.get(f"{office_server.url}/api/v1/changes", timeout=30)
    assert pull.status_code == 401
    push = client.post(
        f"{office_server.url}/api/v1/push",
        json={"sent_at": dt.datetime.now(dt.UTC).isoformat(), "events": []},
        timeout=30,
    )
    assert push.status_code == 401


def test_create_librarian_command_reads_the_password_from_standard_input(
    office_server: Office,
) -> None:
    command = [sys.executable, "-m", "sync.server.cli", "--data", str(office_server.data),
               "--db", office_server.db_url, "create-librarian"]  # fmt: skip
    made = subprocess.run(
        [*command, "王老师"], input="a long enough password\n", capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    client, _ = signed_in_client(office_server, "王老师", "a long enough password")
    assert "王老师" in client.get(f"{office_server.url}/", timeout=30).text
    short = subprocess.run([*command, "someone"], input="short\n", capture_output=True, text=True)
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    twice = subprocess.run([*command, "王老师"], input="another password\n", capture_output=True,
                           text=True)  # fmt: skip
    assert twice.returncode == 1 and "already" in twice.stderr


def test_an_incomplete_form_gets_a_page_not_a_json_error(office_server: Office) -> None:
    client, token = signed_in_client(office_server)
    reply = client.post(
        f"{office_server.url}/librarians",
        data={"csrf_token": token, "name": "x" * 65, "password": "y" * 12},
        headers={"Accept-Language": "en"},
        timeout=30,
    )
    assert reply.status_code == 422 and reply.headers["content-type"].startswith("text/html")
    assert "A field of this form is missing or too long" in reply.text
    assert "x" * 65 not in reply.text
