"""The screens of the touchscreen app: one module and one .kv file for each screen, or for a
few screens used together. A module (and its layout) is loaded the first time one of its
screens is shown, so the kiosk starts with only what "scan your card" needs."""

from __future__ import annotations

import importlib
from typing import Any

# screen name: (module in this package, class)
SCREENS: dict[str, tuple[str, str]] = {
    "idle": ("idle", "IdleScreen"),
    "closed": ("idle", "ClosedScreen"),
    "session": ("session", "SessionScreen"),
    "choice": ("session", "ChoiceScreen"),
    "message": ("notices", "MessageScreen"),
    "receipt": ("notices", "ReceiptScreen"),
    "pin": ("pin", "PinScreen"),
    "supervisor": ("menu", "SupervisorScreen"),
    "today": ("menu", "TodayScreen"),
    "confirm": ("menu", "ConfirmScreen"),
    "find": ("find", "FindScreen"),
    "batch": ("batch", "BatchScreen"),
    "stocktake": ("stocktake", "StocktakeScreen"),
    "firstrun": ("firstrun", "FirstRunScreen"),
    "enroll": ("firstrun", "EnrollScreen"),
}


def make(name: str) -> Any:
    """A new screen called *name* (its module and layout loaded on first use)."""
    module, cls = SCREENS[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)(name=name)
