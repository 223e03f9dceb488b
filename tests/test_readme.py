"""The README walked top to bottom as a newcomer would: every command of its ``sh`` blocks.

The walk runs in a fresh copy of the project (the files git knows) in a temporary folder, with
a temporary home folder. Each command runs as written, in bash, in the copy's folder, after the
lines of the README that set up the shell (``. .venv/bin/activate``). It must exit 0 and print
no Python traceback, except where a person would do something else than wait for it to end:

- ``make ...``: the copy uses the project's own ``.venv`` (linked, already made), so make is
  told not to remake it (``make -o .venv/.installed``). ``make test`` is only checked with
  ``make -n``: it is this very test suite.
- The touchscreen app (``make demo``, ``kiosk --demo``, ``kiosk run`` without ``--headless``)
  runs without a display (SDL's offscreen driver) until Kivy says its main loop started;
  then it is stopped, as a person would close it.
- ``kiosk run --headless`` reads what the command gives it (a pipe), or nothing; with
  ``--scanner evdev`` it runs until its first outcome (here: no scanner) and is stopped.
  Every line it prints must be an outcome in JSON with the fields the README promises.
- ``kiosk doctor`` may exit 1 (this machine has no scanner to find) when it says what to fix.
- ``sudo ...`` installs on the machine it runs on, which the walk does not change: ``kiosk``
  and ``library-server`` run as the walk's user, on the walk's kiosk (``DIR``) and office
  (``OFFICE``) folders instead of an installed machine's; an install script must be there,
  parse and take the options given (tests/deploy/test_install.py runs it in a fresh root);
  any other command must be one an install script puts in place.
- ``library-server serve`` runs in the background until the walk ends, on a free port instead
  of the README's 8470; in the commands after it, ``office-pc:8470`` is the address serve
  printed for ``kiosk enroll`` and ``CODE`` the last line ``enroll-code`` printed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.conftest import require
from tests.sync.support import free_port

ROOT = Path(__file__).resolve().parent.parent
STARTS_TAKE = 240  # seconds a long-running command may take to say it is up, on a busy CI
EVERY_LINE_HAS = {"outcome", "light", "sound", "reason", "patron", "copy", "title", "due"}
UI_UP = "Start application main loop"
# The data folders the README's `sudo kiosk` and `sudo library-server` mean on an installed
# machine stand for the walk's own kiosk and office.
INSTALLED_DATA = {
    "kiosk": "--data DIR",
    "library-server": "--data OFFICE",
}  # Kivy's log line once the window is drawn


def commands(readme: str) -> list[str]:
    """The lines of the README's ``sh`` code blocks, in order."""
    blocks = re.findall(r"^```sh\n(.*?)^```", readme, flags=re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


class Running:
    """A command started in bash, its output collected as it comes."""

    def __init__(self, line: str, cwd: Path, env: dict[str, str]) -> None:
        self.line = line
        self.process = subprocess.Popen(
            ["bash", "-c", line],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # stopped with everything it started (make's children)
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._collect, args=(stream, into), daemon=True)
            for stream, into in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream, into: list[str]) -> None:  # type: ignore[no-untyped-def]
        for text in stream:
            into.append(text)

    @property
    def said(self) -> str:
        return "".join(self.out) + "".join(self.err)

    def wait_for(self, seen: Callable[[], bool], what: str) -> None:
        """Until *seen*; the command may not end before."""
        deadline = time.monotonic() + STARTS_TAKE
        while not seen():
            assert self.process.poll() is None or seen(), self.failed(f"ended before {what}")
            assert time.monotonic() < deadline, self.failed(f"no {what} in {STARTS_TAKE} s")
            time.sleep(0.1)

    def finish(self) -> int:
        code = self.process.wait(STARTS_TAKE)
        for reader in self._readers:
            reader.join(30)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
        for reader in self._readers:
            reader.join(30)

    def failed(self, why: str) -> str:
        return f"README command `{self.line}` {why}:\n{self.said[-4000:]}"


class Walk:
    def __init__(self, copy: Path, home: Path) -> None:
        self.copy = copy
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("VIRTUAL_ENV", "KIVY_", "SDL_", "PYTEST", "COV_"))
        }
        self.env.update(
            HOME=str(home),
            XDG_DATA_HOME=str(home / ".local/share"),
            # As kiosk/ui/driver.py does, but with Kivy's log on the console: its UI_UP line
            # says the window is up.
            SDL_VIDEODRIVER="offscreen",
            KIVY_WINDOW="sdl2",
            KIVY_HOME=str(home / ".kivy"),
        )
        self.shell: list[str] = []  # the lines that set up the shell, run before each command
        self.background: list[Running] = []
        self.words: dict[str, str] = {}  # README placeholder -> what stands for it now

    def run(self, line: str) -> None:
        words = shlex.split(line, comments=True)
        if words[0] == "sudo":
            self._as_root(line, words[1:])
        elif words[0] in (".", "source", "export"):
            self.shell.append(line)
            self._plain(line)
        elif words[:2] == ["make", "test"]:
            dry = self._start("make -n -o .venv/.installed test")
            assert dry.finish() == 0 and "pytest" in dry.said, dry.failed("is not a target")
            # ... which installs what the tests need first, as the README says
            assert "deploy/packages-ci.txt" in dry.said, dry.failed("installs no test packages")
        elif words[0] == "make":
            made = line.replace("make ", "make -o .venv/.installed ", 1)
            if "demo" in words:
                self._touchscreen(made)
            else:
                self._plain(made)
        elif "kiosk" in words and ("--demo" in words or "run" in words):
            if "--headless" not in words:
                self._touchscreen(line)
            elif "evdev" in words:
                self._headless_until_first_outcome(line)
            else:
                self._headless(line)
        elif "doctor" in words:
            doctor = self._start(line)
            code = doctor.finish()
            assert code == 0 or (code == 1 and "to fix" in doctor.said), doctor.failed(
                f"exited {code} without saying what to fix"
            )
            self._no_traceback(doctor)
        elif "serve" in words:
            self._serve(line)
        else:
            done = self._plain(line)
            if "enroll-code" in words:
                self.words["CODE"] = done.out[-1].strip()

    def _as_root(self, line: str, words: list[str]) -> None:
        """What a README runs with sudo installs on the machine it is run on: the walk does
        not change this one. Its own commands run as the walk's user on the walk's kiosk and
        office folders; an install script is
        checked to be there, to parse, and to take the options the README gives it (it runs in
        a fresh root in tests/deploy/test_install.py); any other command must be one an
        install script puts in place."""
        program = words[0]
        if program in INSTALLED_DATA:
            # the installed command knows its data folder; here it is the walk's
            self.run(line.replace(f"sudo {program} ", f"{program} {INSTALLED_DATA[program]} ", 1))
        elif (self.copy / program).is_file():
            script = self.copy / program
            assert os.access(script, os.X_OK), f"README: {program} is not executable"
            self._plain(f"bash -n {program}")
            for option in (word.split("=")[0] for word in words if word.startswith("--")):
                assert option in script.read_text(), f"README: {program} takes no {option}"
        else:
            installers = (self.copy / "deploy").glob("install-*.sh")
            assert any(program in found.read_text() for found in installers), (
                f"README: no install script puts {program} in place"
            )

    def stop(self) -> None:
        for process in self.background:
            process.stop()

    def _start(self, line: str) -> Running:
        for placeholder, value in self.words.items():
            line = re.sub(rf"(?<![\w:/-]){re.escape(placeholder)}(?![\w-])", value, line)
        return Running("\n".join([*self.shell, line]), self.copy, self.env)

    def _plain(self, line: str) -> Running:
        done = self._start(line)
        code = done.finish()
        assert code == 0, done.failed(f"exited {code}")
        self._no_traceback(done)
        return done

    def _touchscreen(self, line: str) -> None:
        app = self._start(line)
        try:
            app.wait_for(lambda: UI_UP in "".join(app.err), "touchscreen app")
        finally:
            app.stop()
        self._no_traceback(app)

    def _headless(self, line: str) -> None:
        done = self._plain(line)
        for text in done.out:
            outcome = json.loads(text)
            assert set(outcome) >= EVERY_LINE_HAS, done.failed(f"printed {text!r}")

    def _headless_until_first_outcome(self, line: str) -> None:
        kiosk = self._start(line)
        try:
            kiosk.wait_for(lambda: bool(kiosk.out), "outcome")
        finally:
            kiosk.stop()
        assert set(json.loads(kiosk.out[0])) >= EVERY_LINE_HAS, kiosk.failed("printed no outcome")
        self._no_traceback(kiosk)

    def _serve(self, line: str) -> None:
        port = str(free_port())
        self.words["8470"] = port
        server = self._start(line)
        self.background.append(server)
        enroll = re.compile(r"`kiosk enroll (\S+) CODE`")
        server.wait_for(lambda: bool(enroll.search(server.said)), "address for kiosks")
        address = enroll.search(server.said).group(1)  # type: ignore[union-attr]
        assert address.endswith(f":{port}"), server.failed("printed another port")
        self.words["office-pc:8470"] = address
        server.wait_for(
            lambda: answers(f"http://{address}/openapi.json"), f"an answer at {address}"
        )

    @staticmethod
    def _no_traceback(done: Running) -> None:
        assert "Traceback" not in done.said, done.failed("printed a traceback")


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=10).ok
    except (requests.ConnectionError, requests.Timeout):  # not up yet, or a busy machine
        return False


def fresh_copy(target: Path) -> Path:
    """The project's files as a clone has them, and its .venv (already made) linked in."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():
            copied = target / name.decode()
            copied.parent.mkdir(parents=True, exist_ok=True)
            copied.write_bytes(source.read_bytes())
            copied.chmod(source.stat().st_mode)
    (target / ".venv").symlink_to(Path(sys.prefix))
    return target


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_readme_command_works_as_written(tmp_path: Path) -> None:
    require("the project's .venv", sys.prefix != sys.base_prefix, "the README's commands")
    require("git", (ROOT / ".git").exists(), "the files of a fresh clone")
    walk = Walk(fresh_copy(tmp_path / "clone"), tmp_path / "home")
    lines = commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(lines) > 10
    try:
        for line in lines:
            walk.run(line)
    finally:
        walk.stop()


def test_readme_links_stay_in_the_project() -> None:
    """The README stands on its own: what it links to is in the project."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert "docs/architecture.md" in links
    for link in links:
        assert not link.startswith(("..", "/")), link
        assert (ROOT / link).exists(), f"the README links to {link}, which is not there"
