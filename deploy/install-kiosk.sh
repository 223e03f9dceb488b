#!/usr/bin/env bash
# Turn a fresh Raspberry Pi OS Lite (Bookworm, 64-bit) into a library kiosk. Safe to run again:
# what is already there is left as it is (settings, data, the installed version).
#
#   sudo deploy/install-kiosk.sh [options]
#     --scanner VID:PID       the barcode scanner's vendor:product (kiosk doctor shows it)
#     --card-reader VID:PID   the card reader's vendor:product
#     --headless              no screen: the status lights are the kiosk's only answer
#     --data-partition DEV    keep the data on this partition (formatted if it is empty)
#     --read-only             make the root file system read-only (needs --data-partition,
#                             now or on an earlier run); takes effect after a reboot
#     --source SRC            what to install (default: the project folder around this script)
#
# Afterwards: sudo reboot, then sudo kiosk doctor. Updates: sudo library-kiosk-update SRC.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=$(dirname "$HERE")
APP=/opt/library-kiosk
DATA=/var/lib/library-kiosk
ETC=/etc/library-kiosk
KIOSK_USER=kiosk
SCANNER=""
CARD_READER=""
HEADLESS=no
DATA_PARTITION=""
READ_ONLY=no

say() { printf 'install-kiosk: %s\n' "$*"; }
fail() { printf 'install-kiosk: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit "${1:-0}"; }
vid_pid() { [[ $1 =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$ ]] || fail "$2: give vendor:product as 4+4 hex digits, e.g. 0c2e:0b61 (kiosk doctor shows it)"; }

while [ $# -gt 0 ]; do
  case $1 in
    --scanner) vid_pid "${2:-}" "$1"; SCANNER=${2,,}; shift 2 ;;
    --card-reader) vid_pid "${2:-}" "$1"; CARD_READER=${2,,}; shift 2 ;;
    --headless) HEADLESS=yes; shift ;;
    --data-partition) DATA_PARTITION=${2:?--data-partition needs a device}; shift 2 ;;
    --read-only) READ_ONLY=yes; shift ;;
    --source) SOURCE=${2:?--source needs a path or package}; shift 2 ;;
    -h | --help) usage 0 ;;
    *) printf 'install-kiosk: unknown option %s\n\n' "$1" >&2; usage 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || fail "run it as root: sudo $0 $*"

systemd_running() { [ -d /run/systemd/system ]; }
on_raspberry_pi() { grep -qs "Raspberry Pi" /proc/device-tree/model; }

# -- Debian packages -------------------------------------------------------------------------
say "Debian packages"
"$HERE/install-packages" "$HERE/packages-kiosk.txt" "$HERE/packages-pi.txt"
# gpiozero's lgpio comes from Raspberry Pi OS's own archive where PyPI has no wheel for the Pi.
if apt-cache show python3-lgpio >/dev/null 2>&1; then
  dpkg-query -W -f='${Status}' python3-lgpio 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-lgpio >/dev/null
fi

# -- the kiosk user --------------------------------------------------------------------------
say "user $KIOSK_USER"
for group in input video render gpio; do
  getent group "$group" >/dev/null || groupadd --system "$group"
done
if ! id "$KIOSK_USER" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir "$DATA" --no-create-home \
    --shell /usr/sbin/nologin --comment "Library Kiosk" "$KIOSK_USER"
fi
usermod -a -G input,video,render,gpio "$KIOSK_USER"

# -- the data folder, on its own partition if asked ------------------------------------------
mount_unit='var-lib-library\x2dkiosk.mount'
if [ -n "$DATA_PARTITION" ]; then
  say "data partition $DATA_PARTITION"
  [ -b "$DATA_PARTITION" ] || fail "$DATA_PARTITION is not a block device"
  fstype=$(blkid -o value -s TYPE "$DATA_PARTITION" || true)
  if [ -z "$fstype" ]; then
    mkfs.ext4 -q -L library-data "$DATA_PARTITION"
  elif [ "$fstype" != ext4 ]; then
    fail "$DATA_PARTITION holds a $fstype file system; give an empty partition or an ext4 one"
  else
    e2label "$DATA_PARTITION" library-data
  fi
  if ! findmnt -n "$DATA" >/dev/null; then
    # What the data folder holds already moves onto the partition.
    staging=$(mktemp -d)
    mount "$DATA_PARTITION" "$staging"
    if [ -d "$DATA" ]; then cp -a "$DATA/." "$staging/"; fi
    umount "$staging"
    rmdir "$staging"
  fi
  install -m 0644 "$HERE/systemd/$mount_unit" "/etc/systemd/system/$mount_unit"
  mkdir -p "$DATA"
  systemctl enable "$mount_unit" >/dev/null 2>&1
  if systemd_running; then
    systemctl daemon-reload
    systemctl start "$mount_unit"
  fi
fi
install -d -o "$KIOSK_USER" -g "$KIOSK_USER" -m 0750 "$DATA"

# -- the app, in a virtual environment of its own --------------------------------------------
# Each version goes into $APP/releases/; $APP/current points to the one that runs, so that an
# update can switch back (library-kiosk-update).
if [ ! -e "$APP/current" ]; then
  release=$APP/releases/$(date +%Y%m%d-%H%M%S)
  say "the app from $SOURCE into $release"
  mkdir -p "$APP/releases"
  # System packages stay visible: python3-lgpio comes from apt on Raspberry Pi OS.
  python3 -m venv --system-site-packages "$release"
  "$release/bin/pip" install --quiet --upgrade pip
  "$release/bin/pip" install --quiet "${SOURCE}[kiosk]"
  ln -sfn "$release" "$APP/current"
else
  say "the app is installed ($(readlink -f "$APP/current")); to update: library-kiosk-update"
fi
install -m 0755 "$HERE/update-kiosk.sh" /usr/local/sbin/library-kiosk-update
# `sudo kiosk doctor` and the other kiosk commands, on the kiosk's data and as its user (a
# command run as root would leave files in the data folder that the kiosk cannot write).
cat >/usr/local/bin/kiosk <<EOF
#!/bin/sh
# The kiosk's commands on its own data, as its own user (installed by install-kiosk.sh).
if [ "\$(id -u)" -eq 0 ]; then
  exec runuser -u $KIOSK_USER -- $APP/current/bin/kiosk --data $DATA "\$@"
fi
exec $APP/current/bin/kiosk --data $DATA "\$@"
EOF
chmod 0755 /usr/local/bin/kiosk

# -- settings --------------------------------------------------------------------------------
install -d -m 0755 "$ETC"
if [ ! -e "$ETC/kiosk.toml" ]; then
  say "settings in $ETC/kiosk.toml"
  "$APP/current/bin/python" -c 'from kiosk.config import DEFAULT_TOML; print(DEFAULT_TOML, end="")' \
    >"$ETC/kiosk.toml"
  if on_raspberry_pi; then
    sed -i 's/^pins = "auto"/pins = "lgpio"/' "$ETC/kiosk.toml"
  fi
  if [ -n "$SCANNER$CARD_READER" ]; then
    printf '\n# The devices named by the udev rule (/etc/udev/rules.d/70-library-kiosk.rules).\n' >>"$ETC/kiosk.toml"
  fi
  if [ -n "$SCANNER" ]; then
    printf '[[scanners.device]]\nmatch = "/dev/input/library-scanner"\nrole = "books"\n' >>"$ETC/kiosk.toml"
  fi
  if [ -n "$CARD_READER" ]; then
    printf '[[scanners.device]]\nmatch = "/dev/input/library-card-reader"\nrole = "cards"\n' >>"$ETC/kiosk.toml"
  fi
  chmod 0644 "$ETC/kiosk.toml"
fi
# The kiosk reads kiosk.toml from its data folder.
ln -sfn "$ETC/kiosk.toml" "$DATA/kiosk.toml"
if [ ! -e /etc/default/library-kiosk ] || [ "$HEADLESS" = yes ]; then
  run="run --scanner evdev"
  [ "$HEADLESS" = yes ] && run="run --headless --scanner evdev"
  printf '# How the kiosk runs: "run --scanner evdev" (touchscreen) or "run --headless --scanner evdev".\nKIOSK_RUN=%s\n' "$run" >/etc/default/library-kiosk
fi

# -- scanners: stable names, readable by the kiosk user --------------------------------------
rules=/etc/udev/rules.d/70-library-kiosk.rules
if [ ! -e "$rules" ] || [ -n "$SCANNER$CARD_READER" ]; then
  say "udev rule $rules"
  previous=$(cat "$rules" 2>/dev/null || cat "$HERE/70-library-kiosk.rules")
  ids() { sed -n "s/.*ATTRS{idVendor}==\"\([0-9a-f]*\)\", ATTRS{idProduct}==\"\([0-9a-f]*\)\".*$1.*/\1:\2/p" <<<"$previous"; }
  scanner=${SCANNER:-$(ids library-scanner)}
  reader=${CARD_READER:-$(ids library-card-reader)}
  sed -e "/library-scanner/s/idVendor}==\"[0-9a-f]*\", ATTRS{idProduct}==\"[0-9a-f]*\"/idVendor}==\"${scanner%:*}\", ATTRS{idProduct}==\"${scanner#*:}\"/" \
    -e "/library-card-reader/s/idVendor}==\"[0-9a-f]*\", ATTRS{idProduct}==\"[0-9a-f]*\"/idVendor}==\"${reader%:*}\", ATTRS{idProduct}==\"${reader#*:}\"/" \
    "$HERE/70-library-kiosk.rules" >"$rules.new"
  mv "$rules.new" "$rules"
  if systemd_running && command -v udevadm >/dev/null; then
    udevadm control --reload
    udevadm trigger --subsystem-match=input --action=change
  fi
fi

# -- switching off from the supervisor menu: exactly one command through sudo ----------------
install -m 0440 "$HERE/sudoers-library-kiosk" /etc/sudoers.d/library-kiosk.new
visudo -cqf /etc/sudoers.d/library-kiosk.new || fail "the sudoers entry does not check out"
mv /etc/sudoers.d/library-kiosk.new /etc/sudoers.d/library-kiosk

# -- time without a battery clock -------------------------------------------------------------
# fake-hwclock starts the clock where it stopped; its file lives on the data partition, which
# a read-only root does not throw away. systemd-timesyncd sets the real time on a network.
if [ ! -L /etc/fake-hwclock.data ]; then
  if [ -f /etc/fake-hwclock.data ]; then mv /etc/fake-hwclock.data "$DATA/fake-hwclock.data"; fi
  ln -s "$DATA/fake-hwclock.data" /etc/fake-hwclock.data
fi
install -D -m 0644 "$HERE/systemd/fake-hwclock.service.d/library-kiosk.conf" \
  /etc/systemd/system/fake-hwclock.service.d/library-kiosk.conf
systemctl enable fake-hwclock.service systemd-timesyncd.service >/dev/null 2>&1

# -- the service, and the screen it draws on --------------------------------------------------
say "service library-kiosk"
install -m 0644 "$HERE/systemd/library-kiosk.service" /etc/systemd/system/library-kiosk.service
systemctl enable library-kiosk.service >/dev/null 2>&1
# No login prompt on the screen the kiosk draws on.
systemctl mask getty@tty1.service >/dev/null 2>&1
# No screen blanking, no blinking text cursor behind the app.
for cmdline in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
  [ -f "$cmdline" ] || continue
  for option in consoleblank=0 vt.global_cursor_default=0; do
    grep -qw "$option" "$cmdline" || sed -i "1s/\$/ $option/" "$cmdline"
  done
  break
done

# -- read-only root ---------------------------------------------------------------------------
if [ "$READ_ONLY" = yes ]; then
  say "read-only root file system"
  [ "$(findmnt -n -o TARGET --target "$DATA")" = "$DATA" ] ||
    fail "the data must be on a partition of its own first (--data-partition DEV), or every loan would be lost at reboot"
  command -v raspi-config >/dev/null || fail "raspi-config is not here: the read-only root needs Raspberry Pi OS"
  raspi-config nonint enable_overlayfs
  # The overlay is set up by the initramfs. A Pi 5 boots its own kernel (2712) whose
  # initramfs is not rebuilt with the newest one: without this its root silently stays writable.
  update-initramfs -u -k all
  say "the root file system is read-only after the next reboot (kiosk doctor checks it)"
fi

if systemd_running; then
  systemctl daemon-reload
  say "done: reboot to start the kiosk (sudo reboot), then check it: sudo kiosk doctor"
else
  say "done (no systemd running here: the service starts at the next boot)"
fi
