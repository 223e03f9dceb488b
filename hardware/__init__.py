"""Device adapters for the kiosk: scanners, card readers, status lights. No library logic."""
