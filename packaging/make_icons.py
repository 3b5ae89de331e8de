"""Write Nexus Desktop's icon files from the icons drawn in code.

    python packaging/make_icons.py

writes resources/nexus.ico (16, 24, 32, 48, 64 and 256 px, for the Windows executable,
installer and shortcuts) and resources/nexus.png (256 px, for Linux desktop entries).
Run it again after changing nexus_desktop/ui/icons.py and commit both files.

The .ico container is written here rather than by Qt's image plugins: Qt saves one image
per .ico, and we need all six sizes in one file. Each image is stored PNG-compressed,
which Windows (Vista and later) reads at every size.
"""

from __future__ import annotations

import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"

# ICONDIR: reserved (0), type (1 = icon), image count.
_ICONDIR = struct.Struct("<HHH")
# ICONDIRENTRY: width, height (0 means 256), palette size, reserved, colour planes,
# bits per pixel, size of the image data, offset of the image data from the file start.
_ICONDIRENTRY = struct.Struct("<BBBBHHII")
_ICON_TYPE = 1
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_ICO_SIDE = 256


@dataclass(frozen=True)
class IcoImage:
    """One image of an .ico file: its side in pixels and its PNG bytes."""

    size: int
    png: bytes


def pack_ico(images: list[IcoImage]) -> bytes:
    """The bytes of an .ico file holding ``images`` (square, PNG-compressed, 1-256 px)."""
    if not images:
        raise ValueError("an .ico file needs at least one image")
    offset = _ICONDIR.size + _ICONDIRENTRY.size * len(images)
    entries = []
    for image in images:
        if not 1 <= image.size <= _MAX_ICO_SIDE:
            raise ValueError(f"icon images are 1 to 256 px; got {image.size} px")
        if not image.png.startswith(_PNG_SIGNATURE):
            raise ValueError(f"the {image.size} px image is not PNG data")
        side = image.size % _MAX_ICO_SIDE  # 256 is written as 0
        entries.append(_ICONDIRENTRY.pack(side, side, 0, 0, 1, 32, len(image.png), offset))
        offset += len(image.png)
    header = _ICONDIR.pack(0, _ICON_TYPE, len(images))
    return header + b"".join(entries) + b"".join(image.png for image in images)


def parse_ico(data: bytes) -> list[IcoImage]:
    """The images of an .ico file written by ``pack_ico`` (PNG-compressed entries)."""
    if len(data) < _ICONDIR.size:
        raise ValueError("not an .ico file: too short")
    reserved, kind, count = _ICONDIR.unpack_from(data, 0)
    if reserved != 0 or kind != _ICON_TYPE:
        raise ValueError("not an .ico file: wrong header")
    images = []
    for index in range(count):
        entry_at = _ICONDIR.size + index * _ICONDIRENTRY.size
        if entry_at + _ICONDIRENTRY.size > len(data):
            raise ValueError(f"the .ico file ends inside entry {index}")
        width, height, _, _, _, _, length, offset = _ICONDIRENTRY.unpack_from(data, entry_at)
        if width != height:
            raise ValueError(f"entry {index} is not square ({width} x {height})")
        png = data[offset:offset + length]
        if len(png) != length or not png.startswith(_PNG_SIGNATURE):
            raise ValueError(f"entry {index} does not hold a complete PNG image")
        images.append(IcoImage(width or _MAX_ICO_SIDE, png))
    return images


def write_icons(folder: Path) -> tuple[Path, Path]:
    """Render the app icon and write ``nexus.ico`` and ``nexus.png`` into ``folder``."""
    # Qt is imported here so the packing functions above load without it.
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QGuiApplication, QPixmap

    from nexus_desktop.ui.icons import SIZES, state_pixmap

    def png_bytes(pixmap: QPixmap) -> bytes:
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not pixmap.save(buffer, "PNG"):
            raise RuntimeError("Qt could not encode the icon as PNG")
        buffer.close()
        return bytes(data.data())

    # Pixmaps need a GUI application; the name keeps a new one alive while rendering.
    _app = QGuiApplication.instance() or QGuiApplication([])
    images = [IcoImage(size, png_bytes(state_pixmap("idle", size))) for size in SIZES]
    folder.mkdir(parents=True, exist_ok=True)
    ico_path = folder / "nexus.ico"
    png_path = folder / "nexus.png"
    ico_path.write_bytes(pack_ico(images))
    png_path.write_bytes(next(image.png for image in images if image.size == 256))
    return ico_path, png_path


def main() -> int:
    # Rendering needs no screen: this also runs on build machines without a desktop.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    for path in write_icons(RESOURCES):
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
