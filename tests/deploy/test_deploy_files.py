"""deploy/: the scripts pass shellcheck, the systemd units systemd's own checker, the udev rule
udev's parser, the sudoers entry visudo; the sudoers entry allows exactly the app's command."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk import service
from tests.conftest import require
from tests.deploy import CACHE

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SCRIPTS = sorted(
    p for p in DEPLOY.iterdir() if p.is_file() and p.read_bytes().startswith(b"#!/usr/bin/env bash")
)
UNITS = sorted(
    p for p in (DEPLOY / "systemd").rglob("*") if p.suffix in (".service", ".timer", ".mount")
)
# What the units run once installed; the installed ones are verified in a real Debian root by
# test_install.py, with these files in place.
INSTALLED = ("/opt/library-kiosk/current/bin/kiosk", "/opt/library-server/venv/bin/library-server")


def test_every_script_passes_shellcheck() -> None:
    require("shellcheck", shutil.which("shellcheck") is not None, "checks the deploy scripts")
    assert {p.name for p in SCRIPTS} >= {"install-kiosk.sh", "install-server.sh", "update-kiosk.sh"}
    result = subprocess.run(
        ["shellcheck", "--severity=style", *map(str, SCRIPTS)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_passes_systemd_analyze_verify(unit: Path, tmp_path: Path) -> None:
    require("systemd", shutil.which("systemd-analyze") is not None, "systemd-analyze verify")
    if unit.suffix == ".timer":  # verified with the service it starts
        shutil.copy(unit.with_suffix(".service"), tmp_path)
    shutil.copy(unit, tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / unit.name)],
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip()
        and not any(f"Command {path} is not executable" in line for path in INSTALLED)
    ]
    assert complaints == []


def test_udev_rule_parses() -> None:
    require("udev", shutil.which("udevadm") is not None, "checks the udev rule")
    rule = DEPLOY / "70-library-kiosk.rules"
    verify = subprocess.run(["udevadm", "verify", "--help"], capture_output=True)
    if verify.returncode == 0:  # systemd 254 and newer
        result = subprocess.run(["udevadm", "verify", str(rule)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return
    # Bookworm's udev (systemd 252) has no `verify`: `udevadm test` reads every rule file, and
    # complains about each bad line, with the rule alone in a private /etc/udev/rules.d.
    require("unshare", os.geteuid() == 0, "root for a private mount of /etc/udev/rules.d")
    result = subprocess.run(
        [
            "unshare",
            "--mount",
            "sh",
            "-c",
            f"mount --bind {shlex.quote(str(rule.parent))} /etc/udev/rules.d && "
            "udevadm test --action=add /sys/class/net/lo",
        ],
        capture_output=True,
        text=True,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"Reading rules file: /etc/udev/rules.d/{rule.name}" in out
    assert [
        line for line in out.splitlines() if line.startswith(f"/etc/udev/rules.d/{rule.name}")
    ] == []


def test_udev_rule_names_the_scanner_and_card_reader_for_the_kiosk_user() -> None:
    lines = [
        line
        for line in (DEPLOY / "70-library-kiosk.rules").read_text().splitlines()
        if "SYMLINK" in line
    ]
    names = {re.search(r'SYMLINK\+="([^"]+)"', line).group(1) for line in lines}  # type: ignore[union-attr]
    assert names == {"input/library-scanner", "input/library-card-reader"}
    assert all('GROUP="input"' in line and 'MODE="0660"' in line for line in lines)


def test_sudoers_allows_exactly_the_apps_poweroff_command() -> None:
    require("sudo", shutil.which("visudo") is not None, "visudo checks the sudoers entry")
    entry = DEPLOY / "sudoers-library-kiosk"
    result = subprocess.run(["visudo", "-cf", str(entry)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    rules = [line for line in entry.read_text().splitlines() if line and not line.startswith("#")]
    assert rules == [f"kiosk ALL=(root) NOPASSWD: {shlex.join(service.POWEROFF[2:])}"]
    assert service.POWEROFF[:2] == ("sudo", "-n")  # never waits for a password on the screen


@pytest.mark.slow
@pytest.mark.timeout(900)  # loading the grammar takes a while on a busy machine
def test_windows_install_script_parses(tmp_path: Path) -> None:
    """PowerShell itself (pwsh) is not in Debian, PyPI or npm: the script is parsed with
    tree-sitter's PowerShell grammar instead, from npm, run by node."""
    require("nodejs", shutil.which("node") is not None, "parses the PowerShell script")
    require("npm", shutil.which("npm") is not None, "fetches the PowerShell grammar")
    parser = Path(__file__).with_name("powershell")
    tools = CACHE / "powershell-parser"
    lock = (parser / "package-lock.json").read_text()
    if (
        not (tools / "package-lock.json").exists()
        or (tools / "package-lock.json").read_text() != lock
    ):
        shutil.rmtree(tools, ignore_errors=True)
        tools.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(parser / name, tools)
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=tools,
            check=True,
            capture_output=True,
            timeout=600,
        )
    shutil.copy(parser / "parse.cjs", tools)

    # One run for both files: loading the grammar (WebAssembly) is most of the time.
    script = DEPLOY / "install-server.ps1"
    broken = tmp_path / "broken.ps1"  # an if without its closing parenthesis
    broken.write_text(script.read_text().replace("if (-not (Test-Path $python)) {", "if (-not {"))
    result = subprocess.run(
        ["node", str(tools / "parse.cjs"), str(script), str(broken)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.stderr == ""
    complaints = result.stdout.splitlines()
    assert [line for line in complaints if line.startswith(str(script))] == []
    # The parser does find the broken one: it can fail.
    assert complaints and all(line.startswith(f"{broken}:68:") for line in complaints)
