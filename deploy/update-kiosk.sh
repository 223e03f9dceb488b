#!/usr/bin/env bash
# Update an installed kiosk (installed as /usr/local/sbin/library-kiosk-update):
#
#   sudo library-kiosk-update SOURCE     SOURCE: a project folder, a wheel or an sdist file
#
# The new version goes into a new virtual environment; the kiosk stops; the database is backed
# up and migrated by the new version (keeping every record); the kiosk starts on the new
# version. If the new version does not start, or does not keep running, the previous version
# and the database as it was come back, and the command says so and fails.
set -euo pipefail

APP=${LIBRARY_KIOSK_APP:-/opt/library-kiosk}
DATA=${LIBRARY_KIOSK_DATA:-/var/lib/library-kiosk}
KIOSK_USER=kiosk
SERVICE=library-kiosk.service
# How long the new version must keep running under systemd before the update counts as done.
HEALTH_SECONDS=${LIBRARY_KIOSK_HEALTH_SECONDS:-60}

say() { printf 'library-kiosk-update: %s\n' "$*"; }
fail() { printf 'library-kiosk-update: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || fail "usage: library-kiosk-update SOURCE (a project folder, a wheel or an sdist)"
SOURCE=$1
[ "$(id -u)" -eq 0 ] || fail "run it as root: sudo library-kiosk-update $SOURCE"
[ -e "$APP/current" ] || fail "no kiosk installed in $APP: run deploy/install-kiosk.sh first"
if findmnt -n -o FSTYPE / | grep -q overlay; then
  fail "the root file system is read-only (overlay): an update made now would be gone at the next reboot.
  Switch the overlay off, reboot, update, switch it on again and reboot:
    sudo raspi-config nonint disable_overlayfs && sudo reboot
    sudo library-kiosk-update $SOURCE
    sudo raspi-config nonint enable_overlayfs && sudo update-initramfs -u -k all && sudo reboot"
fi

systemd_running() { [ -d /run/systemd/system ]; }
as_kiosk() { runuser -u "$KIOSK_USER" -- "$@"; }
db_tool() {
  # $1: a release; the rest: arguments. The database work is the kiosk's own code (kiosk.store).
  local release=$1
  shift
  as_kiosk "$release/bin/python" - "$@" <<'PY'
import sys
from pathlib import Path

from kiosk.store import Store

action, path = sys.argv[1], Path(sys.argv[2])
if action == "backup":  # a consistent copy, before anything changes
    print(Store(path).backup("before-update"))
elif action == "migrate":  # the new version brings the schema to its own (a backup first)
    Store.open(path).close()
elif action == "restore":  # the copy made before, back in place (page by page, consistent)
    import sqlite3

    source, dest = sqlite3.connect(sys.argv[3]), sqlite3.connect(path)
    with dest:
        source.backup(dest)
    source.close()
    dest.close()
PY
}

old=$(readlink -f "$APP/current")
new=$APP/releases/$(date +%Y%m%d-%H%M%S)
say "installing $SOURCE into $new"
python3 -m venv --system-site-packages "$new"
"$new/bin/pip" install --quiet --upgrade pip
if ! "$new/bin/pip" install --quiet "${SOURCE}[kiosk]"; then
  rm -rf "$new"
  fail "the new version could not be installed; the kiosk still runs $old"
fi

was_running=no
if systemd_running && systemctl is-active --quiet "$SERVICE"; then
  was_running=yes
  systemctl stop "$SERVICE"
fi

backup=""
if [ -e "$DATA/kiosk.db" ]; then
  backup=$(db_tool "$old" backup "$DATA/kiosk.db")
  say "database backed up to $backup"
fi

roll_back() {
  say "the new version did not start ($1): going back to $old"
  if systemd_running; then systemctl stop "$SERVICE" || true; fi
  if [ -n "$backup" ]; then
    db_tool "$old" restore "$DATA/kiosk.db" "$backup"
  fi
  ln -sfn "$old" "$APP/current.new" && mv -T "$APP/current.new" "$APP/current"
  if [ "$was_running" = yes ]; then systemctl start "$SERVICE" || true; fi
  rm -rf "$new"
  fail "update failed; the kiosk runs $old again, with its data as before the update"
}

# The new version migrates the database, then must run: headless, on no scanner, it starts,
# answers and stops cleanly as the kiosk user.
db_tool "$new" migrate "$DATA/kiosk.db" || roll_back "the database migration failed"
probe=$(printf ':done\n' | as_kiosk "$new/bin/kiosk" --data "$DATA" run --headless 2>&1) ||
  roll_back "$(printf '%s' "$probe" | tail -n 3)"

ln -sfn "$new" "$APP/current.new" && mv -T "$APP/current.new" "$APP/current"
if systemd_running && [ "$was_running" = yes ]; then
  # Type=notify: start returns once the app says READY=1, or fails.
  systemctl start "$SERVICE" || roll_back "systemctl start failed"
  restarts=$(systemctl show -p NRestarts --value "$SERVICE")
  for _ in $(seq "$HEALTH_SECONDS"); do
    sleep 1
    systemctl is-active --quiet "$SERVICE" || roll_back "the service stopped"
  done
  [ "$(systemctl show -p NRestarts --value "$SERVICE")" = "$restarts" ] ||
    roll_back "the service was restarted (crash or watchdog)"
fi
say "the kiosk now runs $new (the previous version stays in $old)"
# Keep the running version and the one before it.
find "$APP/releases" -mindepth 1 -maxdepth 1 -type d ! -path "$new" ! -path "$old" -exec rm -rf {} +
