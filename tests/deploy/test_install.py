"""The install scripts in a fresh Debian Bookworm root, made by debootstrap in a folder.

The kiosk's script runs there as on a fresh Raspberry Pi OS Lite; afterwards `kiosk doctor` and
a checkout run as the kiosk user, the units pass `systemd-analyze verify` with the programs they
start in place, and an update that does not start is rolled back. Then the office's script,
and the server answers on loopback; the kiosk enrolls with it and its loan reaches the office.

Last, the root boots with systemd as its process 1 (systemd-nspawn): the services start, the
watchdog restarts a kiosk that stopped answering, the nightly backup runs, and an update is
watched under systemd. What cannot be had here: the Pi's display, GPIO and USB scanners (the
kiosk runs headless), and Raspberry Pi OS's own packages (raspi-config, python3-lgpio): the
scripts skip those steps off a Pi, saying so.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import require
from tests.deploy import CACHE
from tests.sync.support import free_port

# Installing (debootstrap, apt, pip) takes minutes on a busy machine, beyond the usual limit.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

PROJECT = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
# This machine's trust for its network (a proxy's certificate authority) goes into the root with
# its resolv.conf, for pip there to reach PyPI as it does here.
TRUST = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
HOST_BUNDLE = next((os.environ[name] for name in TRUST if os.environ.get(name)), None)
PASSWORD = "correct horse battery"
STUDENTS = "card,name,class,grade,kind\nS1,小明,3-1,3,\nS2,小红,3-1,3,\n"
BOOKS = "barcode,isbn,title,author\nB001,,Book 1,Author\nB002,,Book 2,Author\n"


class Root:
    """A Debian root in a folder, with /proc, /sys, /dev and /run mounted for chroot."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mounts: list[Path] = []

    def mount(self, *args: str, at: str) -> None:
        target = self.path / at.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", *args, str(target)], check=True)
        self.mounts.append(target)

    def run(
        self, *command: str, input: str | None = None, check: bool = True, timeout: float = 1800
    ) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": "/root", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}  # fmt: skip
        if HOST_BUNDLE:
            env.update(dict.fromkeys(TRUST, "/etc/host-ca-certificates.crt"))
        result = subprocess.run(
            ["chroot", str(self.path), *command],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        if check:
            assert result.returncode == 0, (
                f"{' '.join(command)}: status {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def file(self, path: str) -> Path:
        return self.path / path.lstrip("/")

    def close(self) -> None:
        for target in reversed(self.mounts):
            subprocess.run(["umount", "--lazy", str(target)], check=False)


def debootstrap(target: Path) -> None:
    """A minimal Bookworm with systemd, from a tarball of its packages kept between runs."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"{SUITE}-minbase.tgz"
    options = ["--variant=minbase", "--include=systemd,systemd-sysv"]
    if not tarball.exists():
        with tempfile.TemporaryDirectory() as work:
            partial = tarball.with_suffix(".partial.tgz")
            subprocess.run(
                ["debootstrap", *options, f"--make-tarball={partial}", SUITE, work],
                check=True,
                capture_output=True,
                timeout=1800,
            )
            partial.replace(tarball)
    subprocess.run(
        ["debootstrap", *options, f"--unpack-tarball={tarball}", SUITE, str(target)],
        check=True,
        capture_output=True,
        timeout=1800,
    )


@pytest.fixture(scope="module")
def root() -> Iterator[Root]:
    require("debootstrap", shutil.which("debootstrap") is not None, "a fresh Debian root")
    require("root", os.geteuid() == 0, "debootstrap and chroot run as root")
    folder = Path(tempfile.mkdtemp(prefix="kiosk-debian-"))
    debian = Root(folder / "root")
    try:
        debootstrap(debian.path)
        debian.mount("-t", "proc", "proc", at="/proc")
        debian.mount("--rbind", "/sys", at="/sys")
        debian.mount("--rbind", "/dev", at="/dev")
        debian.mount("-t", "tmpfs", "tmpfs", at="/run")
        for cache, inside in (("apt", "/var/cache/apt/archives"), ("pip", "/root/.cache/pip")):
            (CACHE / cache).mkdir(parents=True, exist_ok=True)
            debian.mount("--bind", str(CACHE / cache), at=inside)
        shutil.copy("/etc/resolv.conf", debian.file("/etc/resolv.conf"))
        if HOST_BUNDLE:
            shutil.copy(HOST_BUNDLE, debian.file("/etc/host-ca-certificates.crt"))
        # Keep downloaded packages for the next run (Debian's docker-like default deletes them).
        keep = 'Binary::apt::APT::Keep-Downloaded-Packages "true";\n'
        debian.file("/etc/apt/apt.conf.d/90keep").write_text(keep)
        # The project as the IT teacher has it: its files, without the developer's .venv.
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=PROJECT, capture_output=True, check=True
        ).stdout.decode()
        for name in filter(None, listed.split("\0")):
            if (PROJECT / name).is_file():
                target = debian.file(f"/srv/library-kiosk/{name}")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(PROJECT / name, target)
        yield debian
    finally:
        debian.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def kiosk_installed(root: Root) -> Root:
    first = root.run("/srv/library-kiosk/deploy/install-kiosk.sh", "--scanner", "0c2e:0b61")
    assert "the app from /srv/library-kiosk" in first.stdout
    # Safe to run again: nothing is installed twice, the settings stay.
    settings = root.file("/etc/library-kiosk/kiosk.toml").read_text()
    again = root.run("/srv/library-kiosk/deploy/install-kiosk.sh", "--card-reader", "ffff:0035")
    assert "the app is installed" in again.stdout
    assert root.file("/etc/library-kiosk/kiosk.toml").read_text() == settings
    assert len(list(root.file("/opt/library-kiosk/releases").iterdir())) == 1
    return root


def open_all_day(root: Root) -> None:
    """The IT teacher's kiosk.toml: open every day, in a time zone where it is now about noon
    (so that no test run falls on the minute the library closes)."""
    offset = 12 - dt.datetime.now(dt.UTC).hour  # -11 .. 12
    zone = f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-8 is eight hours ahead of UTC
    path = root.file("/etc/library-kiosk/kiosk.toml")
    text = path.read_text().replace('timezone = ""', f'timezone = "{zone}"')
    start, end = text.index("[timetable]"), text.index("[scanners]")
    timetable = (
        '[timetable]\n[[timetable.window]]\nweekdays = ["mon", "tue", "wed", "thu", "fri", '
        '"sat", "sun"]\nopens = "00:00"\ncloses = "23:59"\n\n'
    )
    path.write_text(text[:start] + timetable + text[end:])


def test_kiosk_install_makes_a_service_and_its_user(kiosk_installed: Root) -> None:
    root = kiosk_installed
    groups = root.run("id", "-nG", "kiosk").stdout.split()
    assert {"kiosk", "input", "video", "render", "gpio"} <= set(groups)
    assert root.run("stat", "-c", "%U %a", "/var/lib/library-kiosk").stdout.split() == [
        "kiosk",
        "750",
    ]
    wanted = root.file("/etc/systemd/system/multi-user.target.wants/library-kiosk.service")
    assert wanted.is_symlink()
    assert os.readlink(root.file("/etc/systemd/system/getty@tty1.service")) == "/dev/null"
    assert (
        os.readlink(root.file("/etc/fake-hwclock.data"))
        == "/var/lib/library-kiosk/fake-hwclock.data"
    )
    # The udev rule names the devices given, and kiosk.toml reads them by those names.
    rule = root.file("/etc/udev/rules.d/70-library-kiosk.rules").read_text()
    assert (
        'ATTRS{idVendor}=="0c2e", ATTRS{idProduct}=="0b61", SYMLINK+="input/library-scanner"'
        in rule
    )
    assert (
        'ATTRS{idVendor}=="ffff", ATTRS{idProduct}=="0035", SYMLINK+="input/library-card-reader"'
        in rule
    )
    assert (
        'match = "/dev/input/library-scanner"'
        in root.file("/etc/library-kiosk/kiosk.toml").read_text()
    )
    # Every unit checks out with the programs it starts installed (systemd's own checker).
    for unit in ("library-kiosk.service", "fake-hwclock.service"):
        where = f"/etc/systemd/system/{unit}" if unit.startswith("library") else unit
        verify = root.run("systemd-analyze", "verify", "--man=no", where, check=False)
        assert verify.returncode == 0 and "library" not in verify.stderr, verify.stderr
    parsed = root.run("udevadm", "test", "--action=add", "/sys/class/net/lo", check=False)
    assert (
        "Reading rules file: /etc/udev/rules.d/70-library-kiosk.rules"
        in parsed.stderr + parsed.stdout
    )
    assert "70-library-kiosk.rules:" not in parsed.stderr + parsed.stdout
    # The kiosk user may power off through sudo, and do nothing else as root.
    allowed = root.run(
        "runuser",
        "-u",
        "kiosk",
        "--",
        "sudo",
        "-n",
        "-l",
        "/usr/bin/systemctl",
        "poweroff",
        check=False,
    )
    assert allowed.returncode == 0 and allowed.stdout.strip() == "/usr/bin/systemctl poweroff"
    for other in (
        ["/usr/bin/systemctl", "reboot"],
        ["/bin/sh"],
        ["/usr/bin/systemctl", "poweroff", "--force"],
    ):
        refused = root.run("runuser", "-u", "kiosk", "--", "sudo", "-n", "-l", *other, check=False)
        assert refused.returncode != 0, other


def test_doctor_and_a_checkout_as_the_kiosk_user(kiosk_installed: Root) -> None:
    root = kiosk_installed
    open_all_day(root)
    root.file("/tmp/students.csv").write_text(STUDENTS, encoding="utf-8")
    root.file("/tmp/books.csv").write_text(BOOKS, encoding="utf-8")
    # `kiosk` (the command installed for the IT teacher) runs as the kiosk user on its data.
    assert "2 added" in root.run("kiosk", "import-students", "/tmp/students.csv").stdout
    root.run("kiosk", "import-books", "/tmp/books.csv")

    doctor = root.run("kiosk", "doctor", "--seconds", "0", check=False)
    report = doctor.stdout
    assert "Library Kiosk doctor: /var/lib/library-kiosk" in report
    assert "/var/lib/library-kiosk/kiosk.db: intact" in report
    assert "no GPIO here: the lights are simulated" in report
    # A chroot has no scanner, and the root file system is not read-only: both said plainly.
    assert doctor.returncode == 1
    assert "no /dev/input at all" in report
    assert "the root file system is writable" in report

    checkout = root.run(
        "kiosk", "run", "--headless", "--scanner", "stdin", input="S1\nB001\n:done\n"
    )
    outcomes = [json.loads(line) for line in checkout.stdout.splitlines()]
    lent = [o for o in outcomes if o["outcome"] == "checked_out"]
    assert [(o["patron"], o["copy"]) for o in lent] == [("S1", "B001")], outcomes
    owners = root.run(
        "stat",
        "-c",
        "%U",
        "/var/lib/library-kiosk/kiosk.db",
        "/var/lib/library-kiosk/kiosk.db-wal",
        check=False,
    )
    assert set(owners.stdout.split()) == {"kiosk"}  # nothing in the data folder belongs to root


def test_update_that_does_not_start_is_rolled_back_and_a_good_one_lands(
    kiosk_installed: Root,
) -> None:
    root = kiosk_installed
    before = os.readlink(root.file("/opt/library-kiosk/current"))
    root.run("cp", "-a", "/srv/library-kiosk", "/srv/broken")
    broken = root.file("/srv/broken/kiosk/headless.py")
    broken.write_text(broken.read_text() + '\nraise SystemExit("this build is broken")\n')
    failed = root.run("library-kiosk-update", "/srv/broken", check=False)
    assert failed.returncode == 1
    assert "this build is broken" in failed.stderr + failed.stdout
    assert "going back to" in failed.stdout
    assert os.readlink(root.file("/opt/library-kiosk/current")) == before
    assert len(list(root.file("/opt/library-kiosk/releases").iterdir())) == 1

    root.run("cp", "-a", "/srv/library-kiosk", "/srv/next")
    pyproject = root.file("/srv/next/pyproject.toml")
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "0.1.1"', 1))
    updated = root.run("library-kiosk-update", "/srv/next")
    assert "the kiosk now runs" in updated.stdout
    after = os.readlink(root.file("/opt/library-kiosk/current"))
    assert after != before
    version = root.run(
        f"{after}/bin/python",
        "-c",
        "import importlib.metadata as m; print(m.version('library-kiosk'))",
    )
    assert version.stdout.strip() == "0.1.1"
    # The data came through: S1 still has B001.
    session = root.run("kiosk", "run", "--headless", "--scanner", "stdin", input="S1\n:done\n")
    outcomes = [json.loads(line) for line in session.stdout.splitlines()]
    opened = next(o for o in outcomes if o["outcome"] == "session_started")
    assert [loan["copy"] for loan in opened["loans"]] == ["B001"], opened
    assert list(root.file("/var/lib/library-kiosk").glob("kiosk.before-update.*.bak"))


def test_server_install_answers_on_loopback_and_the_kiosk_syncs_with_it(
    kiosk_installed: Root,
) -> None:
    root = kiosk_installed
    port = free_port()
    install = "/srv/library-kiosk/deploy/install-server.sh"
    first = root.run(install, "--port", str(port), "--librarian", "Ms Wang", input=PASSWORD + "\n")
    assert "Ms Wang can sign in to the office's pages now" in first.stdout
    # Safe to run again: the account is there already, which is said, and the rest goes on.
    again = root.run(install, "--librarian", "Ms Wang", input="another password\n")
    assert "no account made for Ms Wang" in again.stdout
    assert "no systemd running here" in again.stdout
    check = (
        "from pathlib import Path\n"
        "from sync.server.db import Database, database_url\n"
        "from sync.server.services.librarians import sign_in\n"
        "db = Database.open(database_url(Path('/var/lib/library-server'), None))\n"
        "with db.write() as session:\n"
        f"    print(sign_in(session, 'Ms Wang', {PASSWORD!r}) is not None,\n"
        "          sign_in(session, 'Ms Wang', 'wrong password'))\n"
    )
    python = "/opt/library-server/venv/bin/python"
    signed_in = root.run("runuser", "-u", "library", "--", python, "-c", check)
    assert signed_in.stdout.split() == ["True", "None"]
    assert f"PORT={port}" in root.file("/etc/library-server/server.env").read_text()
    for unit in (
        "library-server.service",
        "library-server-backup.service",
        "library-server-backup.timer",
    ):
        verify = root.run(
            "systemd-analyze", "verify", "--man=no", f"/etc/systemd/system/{unit}", check=False
        )
        assert verify.returncode == 0 and "library" not in verify.stderr, verify.stderr
    assert root.file(
        "/etc/systemd/system/timers.target.wants/library-server-backup.timer"
    ).is_symlink()

    # What the service runs, as its user (systemd cannot run in a chroot).
    serve = (
        "set -a; . /etc/library-server/server.env; exec /opt/library-server/venv/bin/library-server"
        " --data /var/lib/library-server serve --host 127.0.0.1 --port $PORT"
    )
    server = subprocess.Popen(
        ["chroot", str(root.path), "runuser", "-u", "library", "--", "/bin/sh", "-c", serve],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read().decode()  # type: ignore[union-attr]
            try:
                if requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine
                pass
            assert time.monotonic() < deadline, "the server did not answer within 120 s"
            time.sleep(0.2)
        # The librarian's pages came with the install (templates and static files).
        page = requests.get(f"http://127.0.0.1:{port}/login", timeout=30)
        assert page.ok and "<form" in page.text
        code = root.run("library-server", "enroll-code").stdout.strip().splitlines()[-1]
        root.run("library-server", "import-students", "/tmp/students.csv")
        root.run("library-server", "import-books", "/tmp/books.csv")
        root.run("kiosk", "enroll", f"http://127.0.0.1:{port}", code)
        root.run("kiosk", "sync")
        loans = root.run("library-server", "loans", "--json").stdout.splitlines()
        assert [json.loads(line)["copy"] for line in loans] == ["B001"]
        made = root.run("library-server", "backup").stdout
        assert "backup written to /var/lib/library-server/backups/library-server-" in made
    finally:
        server.terminate()
        server.wait(30)


class Booted:
    """The root booted with systemd as its process 1 (systemd-nspawn), sharing this network."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            ["systemd-nspawn", "-D", str(path), "--register=no", "--keep-unit", "-q",
             "--boot", "--console=passive"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.pid = self._wait(self._init_pid, "systemd to start")
        self._wait(
            lambda: (
                self.run("systemctl", "is-system-running", check=False).stdout.strip()
                in ("running", "degraded")
            ),
            "the boot to finish",
        )

    def _init_pid(self) -> int | None:
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        return int(found[0]) if found else None

    def _wait(self, condition, what: str, seconds: float = 180):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + seconds
        while not (result := condition()):
            assert self.process.poll() is None, f"systemd-nspawn ended before {what}"
            assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
            time.sleep(0.5)
        return result

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["nsenter", "-t", str(self.pid), "-a", *command],
            capture_output=True,
            text=True,
            timeout=900,
            env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                 "LANG": "C.UTF-8", **({k: "/etc/host-ca-certificates.crt" for k in TRUST}
                                        if HOST_BUNDLE else {})},
        )  # fmt: skip
        if check:
            assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
        return result

    def show(self, unit: str, prop: str) -> str:
        return self.run("systemctl", "show", "-p", prop, "--value", unit).stdout.strip()

    def close(self) -> None:
        self.run("systemctl", "poweroff", check=False)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def test_services_run_under_systemd(kiosk_installed: Root) -> None:
    """The last test of the module: the root boots, so its chroot mounts go first."""
    require("systemd-container", shutil.which("systemd-nspawn") is not None, "boots the root")
    root = kiosk_installed
    # A kiosk with no screen here: headless, on the (absent) USB scanners and simulated lights.
    root.run("/srv/library-kiosk/deploy/install-kiosk.sh", "--headless")
    port = root.file("/etc/library-server/server.env").read_text().split("PORT=")[1].split()[0]
    root.close()
    booted = Booted(root.path)
    try:
        # Type=notify: active only once the kiosk said READY=1 from its loop.
        booted._wait(lambda: booted.show("library-kiosk", "ActiveState") == "active", "the kiosk")
        assert booted.show("library-kiosk", "NRestarts") == "0"
        assert booted.show("library-kiosk", "User") == "kiosk"
        assert booted.show("library-kiosk", "WatchdogUSec") == "30s"

        def answers() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).ok
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine
                return False

        booted._wait(answers, "the office server to answer")
        assert booted.show("library-server", "User") == "library"
        # The nightly backup, started now by hand.
        booted.run("systemctl", "start", "library-server-backup.service")
        assert (
            "backup written to"
            in booted.run("journalctl", "-u", "library-server-backup", "--no-pager").stdout
        )
        assert (
            "library-server-backup.timer"
            in booted.run("systemctl", "list-timers", "--all", "--no-pager").stdout
        )

        # A kiosk that stops answering (its process stopped) is killed by the watchdog and
        # started again.
        frozen = booted.show("library-kiosk", "MainPID")
        booted.run("systemctl", "kill", "--signal=SIGSTOP", "library-kiosk")
        booted._wait(
            lambda: (
                booted.show("library-kiosk", "NRestarts") == "1"
                and booted.show("library-kiosk", "ActiveState") == "active"
            ),
            "the watchdog to restart the kiosk",
        )
        assert booted.show("library-kiosk", "MainPID") != frozen
        journal = booted.run("journalctl", "-u", "library-kiosk", "--no-pager").stdout
        assert "Watchdog timeout" in journal

        # An update under systemd: the service is stopped, updated, started and watched.
        before = os.readlink(root.file("/opt/library-kiosk/current"))
        updated = booted.run(
            "env", "LIBRARY_KIOSK_HEALTH_SECONDS=10", "library-kiosk-update", "/srv/library-kiosk"
        )
        assert "the kiosk now runs" in updated.stdout
        after = os.readlink(root.file("/opt/library-kiosk/current"))
        assert after != before
        assert booted.show("library-kiosk", "ActiveState") == "active"
    finally:
        booted.close()
