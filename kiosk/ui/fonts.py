"""A font with Chinese characters, so that names and titles never render as boxes."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

# Preferred families, best first; Noto Sans CJK and WenQuanYi are Debian packages.
FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei")
# Where those packages put them, for a system without fontconfig's fc-list.
KNOWN_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


class FontNotFound(Exception):
    """No font for Chinese text; the message says what to install or configure."""


def find_cjk_font(configured: str = "") -> Path:
    """The font file to use: *configured* (kiosk.toml ``font``) if given, else one found."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise FontNotFound(f"kiosk.toml font = {configured!r}: no such font file")
        return path
    found = _from_fontconfig() or next((Path(p) for p in KNOWN_FILES if Path(p).is_file()), None)
    if found is None:
        raise FontNotFound(
            "no Chinese font found: install fonts-wqy-microhei (or fonts-noto-cjk), "
            'or set font = "/path/to/font.ttf" in kiosk.toml'
        )
    return found


def _from_fontconfig() -> Path | None:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        listing = subprocess.run(
            [fc_list, ":lang=zh-cn", "family", "file"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("fc-list failed (%s); looking for fonts in the usual places", exc)
        return None
    by_family: dict[str, Path] = {}
    for line in listing.splitlines():
        file, _, families = line.partition(": ")
        for family in families.split(","):
            by_family.setdefault(family.strip(), Path(file.strip()))
    for family in FAMILIES:
        if family in by_family:
            return by_family[family]
    return None


def register(path: Path) -> None:
    """Make *path* the font of every label (Kivy's default font name is Roboto)."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    LabelBase.register(DEFAULT_FONT, str(path))
