"""Kivy reads the touchscreen only, never the scanners (its Raspberry Pi default probes every
input device). Which devices Kivy then opens can only be seen on a Pi with its screen; here the
input line itself is checked, as Kivy's probesysfs reads it."""

from __future__ import annotations

import re

import pytest

from hardware.touch import KIVY_PROVIDER, configure_kivy, kivy_touch_input
from kiosk.config import KioskConfig


def options(line: str) -> dict[str, str]:
    """The key=value options of a probesysfs line, split as Kivy splits them."""
    name, *args = line.split(",")
    assert name == "probesysfs"
    return dict(arg.split("=", 1) for arg in args)


def test_a_named_touchscreen_is_the_only_device_kivy_takes() -> None:
    line = options(kivy_touch_input("ft5x06"))
    assert line["provider"] == "hidinput" and line["use_regex"] == "1"
    # Kivy: re.match(pattern, device name, IGNORECASE)
    assert re.match(line["match"], "generic FT5X06 (79)", re.IGNORECASE)
    assert not re.match(line["match"], "Honeywell 1900 Barcode Scanner", re.IGNORECASE)
    special = options(kivy_touch_input("Goodix (TS)"))["match"]
    assert re.match(special, "goodix (ts) capacitive", re.IGNORECASE)


def test_without_a_name_only_multitouch_screens_are_taken() -> None:
    assert options(kivy_touch_input(""))["select_all"] == "0"  # on a Pi Kivy would take all


def test_a_name_with_a_comma_cannot_be_used() -> None:
    with pytest.raises(ValueError, match="comma"):
        kivy_touch_input("Touch, Inc.")
    with pytest.raises(ValueError, match="touchscreen"):
        KioskConfig.model_validate({"scanners": {"touchscreen": "Touch, Inc."}})


def test_kivy_is_configured_before_its_window_opens() -> None:
    from kiosk.ui.driver import headless_environment  # Kivy as the UI tests load it

    headless_environment()
    from kivy.config import Config

    before = Config.get("input", KIVY_PROVIDER, fallback=None)
    try:
        configure_kivy("ft5x06")
        assert Config.get("input", KIVY_PROVIDER) == kivy_touch_input("ft5x06")
    finally:
        if before is None:
            Config.remove_option("input", KIVY_PROVIDER)
        else:
            Config.set("input", KIVY_PROVIDER, before)
