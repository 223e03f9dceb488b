"""Library Kiosk: the kiosk application (engine, store, rules, ui)."""

__version__ = "0.1.0"
