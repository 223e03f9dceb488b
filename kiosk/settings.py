"""The rows of the kiosk's settings table: the name of each, and who writes it.

Read and written with :func:`kiosk.store.get_setting` and :func:`kiosk.store.set_setting`.
The names are kept apart from the engine, so the sync client and the office can use them
without loading the kiosk's state machine.
"""

from __future__ import annotations

# The clock (kiosk.clock): the latest time the kiosk has seen on its own clock.
LATEST_SEEN = "clock.latest_seen"  # as confirmed last; events on a right clock since count too
SEEN_SINCE_SEQ = "clock.seen_since_seq"  # the last event before that confirmation
# The opening timetable (kiosk.config, kiosk.schedule): the Monday of an A week.
WEEK_A_STARTS = "timetable.week_a_starts"
# Sync (sync.replica, sync.client, sync.bundle).
ENROLLED = "sync.enrolled"  # the office's URL, once the kiosk has an office to report to
KIOSK_ID = "sync.kiosk_id"
CURSOR = "sync.cursor"
LAST_SYNC = "sync.last_sync"
CLOCK_OFFSET = "sync.clock_offset_seconds"
LAST_ERROR = "sync.last_error"
OFFICE_RULES = "sync.office_rules"
# The office's last acknowledgement, "SEQ PROOF": sent back to it with the next push, it shows
# a restored office what it had acknowledged before (the proof is the office's signature).
ACKNOWLEDGED = "sync.acknowledged"
# The highest sequence marked acknowledged: the office acknowledges events in order, so the
# events after it are those still waiting for it, found by their sequence (kiosk.outbox).
ACKED_THROUGH = "sync.acked_through"
# The touchscreen's first run (kiosk.readmodel): answered, and the language chosen then
# (over kiosk.toml's).
SETUP_DONE = "ui.setup_done"
LANGUAGE = "ui.language"
# Written anew by every transaction that changes what the engine keeps in memory (kiosk.store):
# a change made by another program (``kiosk confirm-clock``, ``kiosk sync``) is seen by it too.
CHANGED = "store.changed"
