"""The office server: master catalogue, merged loan ledger, kiosk API and librarian commands."""
