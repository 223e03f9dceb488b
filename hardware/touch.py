"""The touchscreen's side of the scanners: Kivy must read the touchscreen and nothing else.

On a Raspberry Pi, Kivy's default input line probes every input device (``probesysfs`` with
``select_all`` on, through ``hidinput``), so the barcode scanners and card readers would be
opened as touch or keyboard devices of the app too. The kiosk names its touchscreen instead.
"""

from __future__ import annotations

import re

KIVY_PROVIDER = "%(name)s"  # the key Kivy's own default input line has


def kivy_touch_input(touchscreen: str = "") -> str:
    """Kivy's ``[input]`` provider line for the touchscreen only.

    *touchscreen*: part of its name (kiosk.toml's ``[scanners] touchscreen``); empty: only
    multi-touch screens are taken (as Kivy does off a Pi), never keyboard-like devices.
    """
    if "," in touchscreen:
        raise ValueError("a touchscreen name for Kivy cannot contain a comma")
    if not touchscreen:
        return "probesysfs,provider=hidinput,select_all=0"
    # Kivy matches the pattern at the start of the name, case-insensitively
    return f"probesysfs,provider=hidinput,select_all=1,use_regex=1,match=.*{re.escape(touchscreen)}"


def configure_kivy(touchscreen: str = "") -> None:
    """Set Kivy's input to the touchscreen only; call before the app's window opens."""
    from kivy.config import Config

    Config.set("input", KIVY_PROVIDER, kivy_touch_input(touchscreen))
