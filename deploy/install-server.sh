#!/usr/bin/env bash
# Install the library's office server on a Linux PC or server (Debian, Ubuntu, Raspberry Pi OS)
# as a service that starts with the computer, with a nightly backup. Safe to run again: it
# upgrades the program and keeps the settings and the data.
#
#   sudo deploy/install-server.sh [options]
#     --librarian NAME   create the first librarian's account (asks for a password)
#     --port PORT        where kiosks and browsers reach it (default 8470)
#     --db URL           PostgreSQL instead of SQLite, e.g. postgresql+psycopg://library@/library
#     --keep-days N      how many days of nightly backups to keep (default 14)
#     --source SRC       what to install (default: the project folder around this script)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(dirname "$HERE")
APP=/opt/library-server
DATA=/var/lib/library-server
ETC=/etc/library-server
SERVER_USER=library
LIBRARIAN=""
PORT=8470
DB=""
KEEP_DAYS=14

say() { printf 'install-server: %s\n' "$*"; }
fail() { printf 'install-server: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case $1 in
    --librarian) LIBRARIAN=${2:?--librarian needs a name}; shift 2 ;;
    --port) PORT=${2:?--port needs a number}; shift 2 ;;
    --db) DB=${2:?--db needs a database URL}; shift 2 ;;
    --keep-days) KEEP_DAYS=${2:?--keep-days needs a number}; shift 2 ;;
    --source) SOURCE=${2:?--source needs a path}; shift 2 ;;
    -h | --help) usage 0 ;;
    *) printf 'install-server: unknown option %s\n\n' "$1" >&2; usage 2 ;;
  esac
done
[[ $PORT =~ ^[0-9]+$ ]] || fail "--port: a number, e.g. 8470"
[[ $KEEP_DAYS =~ ^[1-9][0-9]*$ ]] || fail "--keep-days: a number of days, 1 or more"
[ "$(id -u)" -eq 0 ] || fail "run it as root: sudo $0 $*"
systemd_running() { [ -d /run/systemd/system ]; }

say "Debian packages"
"$HERE/install-packages" "$HERE/packages-server.txt"

say "user $SERVER_USER"
if ! id "$SERVER_USER" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir "$DATA" --no-create-home \
    --shell /usr/sbin/nologin --comment "Library Kiosk office server" "$SERVER_USER"
fi
install -d -o "$SERVER_USER" -g "$SERVER_USER" -m 0750 "$DATA" "$DATA/backups"

say "settings in $ETC/server.env"
install -d -m 0755 "$ETC"
if [ ! -e "$ETC/server.env" ]; then
  cat >"$ETC/server.env" <<EOF
# The office server's settings (read by library-server.service and its nightly backup).
# Where kiosks and browsers reach it:
HOST=0.0.0.0
PORT=$PORT
# Empty: SQLite in $DATA. Or PostgreSQL, e.g. postgresql+psycopg://library@/library
LIBRARY_SERVER_DB=$DB
# Days of nightly backups kept in $DATA/backups:
KEEP_DAYS=$KEEP_DAYS
EOF
else
  # Options given again replace the settings they name; the others stay.
  set_env() { sed -i "s|^$1=.*|$1=$2|" "$ETC/server.env"; }
  for given in "$@"; do
    case $given in
      --port) set_env PORT "$PORT" ;;
      --db) set_env LIBRARY_SERVER_DB "$DB" ;;
      --keep-days) set_env KEEP_DAYS "$KEEP_DAYS" ;;
    esac
  done
fi
# It may hold the database password: readable by the server's user, not by everyone.
chown root:"$SERVER_USER" "$ETC/server.env"
chmod 0640 "$ETC/server.env"

say "the server from $SOURCE into $APP/venv"
[ -x "$APP/venv/bin/python" ] || python3 -m venv "$APP/venv"
"$APP/venv/bin/pip" install --quiet --upgrade pip
"$APP/venv/bin/pip" install --quiet --upgrade "${SOURCE}[server]"

# `sudo library-server ...` runs the librarian's commands on the service's data, as its user.
cat >/usr/local/bin/library-server <<EOF
#!/bin/sh
# The office server's commands on its own data, as its own user (installed by install-server.sh).
set -a
. $ETC/server.env
set +a
if [ "\$(id -u)" -eq 0 ]; then
  exec runuser -u $SERVER_USER -- $APP/venv/bin/library-server --data $DATA "\$@"
fi
exec $APP/venv/bin/library-server --data $DATA "\$@"
EOF
chmod 0755 /usr/local/bin/library-server

# The database is created (or upgraded) now, as the server's user, not at the first request.
runuser -u "$SERVER_USER" -- /usr/local/bin/library-server kiosks >/dev/null

if [ -n "$LIBRARIAN" ]; then
  say "the first librarian: $LIBRARIAN (a password of 8 characters or more)"
  # Asks for the password on a terminal, else reads it from the first line of standard input.
  /usr/local/bin/library-server create-librarian "$LIBRARIAN" ||
    say "no account made for $LIBRARIAN (said above why); the rest goes on"
fi

say "service library-server and its nightly backup"
for unit in library-server.service library-server-backup.service library-server-backup.timer; do
  install -m 0644 "$HERE/systemd/$unit" "/etc/systemd/system/$unit"
done
systemctl enable library-server.service library-server-backup.timer >/dev/null 2>&1
if systemd_running; then
  systemctl daemon-reload
  systemctl restart library-server.service
  systemctl start library-server-backup.timer
  say "done: kiosks reach this server at http://$(hostname -f 2>/dev/null || hostname):$PORT"
else
  say "done (no systemd running here: the service starts at the next boot)"
fi
