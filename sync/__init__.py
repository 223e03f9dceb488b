"""Everything that crosses between a kiosk and the office: wire format, client, server, bundle."""
