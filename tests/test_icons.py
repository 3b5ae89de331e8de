"""The icons drawn in code, and the .ico file made from them."""

from __future__ import annotations

import importlib.util
import itertools
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from nexus_desktop.paths import resources_dir
from nexus_desktop.ui.icons import SIZES, STATES, app_icon, state_icon, state_pixmap

ROOT = Path(__file__).resolve().parent.parent
LIGHT_TASKBAR = QColor("#f3f3f3")
DARK_TASKBAR = QColor("#202020")


def load_make_icons() -> ModuleType:
    script = ROOT / "packaging" / "make_icons.py"
    spec = importlib.util.spec_from_file_location("nexus_make_icons", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up by name while being built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def make_icons(qapp: QApplication) -> ModuleType:
    return load_make_icons()


def image_of(state: str, size: int) -> QImage:
    return state_pixmap(state, size).toImage().convertToFormat(QImage.Format.Format_ARGB32)


def alphas(image: QImage) -> list[int]:
    return [image.pixelColor(x, y).alpha()
            for y in range(image.height()) for x in range(image.width())]


def luminance(color: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF())
            + 0.0722 * channel(color.blueF()))


def contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def png_image(data: bytes) -> QImage:
    image = QImage()
    assert image.loadFromData(data, "PNG")
    return image


def same_pixels(a: QImage, b: QImage) -> bool:
    fmt = QImage.Format.Format_ARGB32
    return a.convertToFormat(fmt) == b.convertToFormat(fmt)


def make_icons_png(size: int, state: str) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert state_pixmap(state, size).save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("size", SIZES)
def test_every_state_draws_at_every_size(qapp: QApplication, state: str, size: int):
    image = image_of(state, size)
    assert (image.width(), image.height()) == (size, size)
    alpha = alphas(image)
    opaque = sum(1 for a in alpha if a == 255)
    clear = sum(1 for a in alpha if a == 0)
    # A drawn mark: a good part of the square is solid, and the corners around the
    # rounded bubble are left transparent for the taskbar to show through.
    assert opaque > size * size * 0.3
    assert clear > 0
    assert image.pixelColor(0, 0).alpha() == 0


@pytest.mark.parametrize("size", SIZES)
def test_edges_fall_on_whole_pixels(qapp: QApplication, size: int):
    """The bubble's top edge is a crisp row: (next to) nothing above it and a solid row
    on it, where a scaled bitmap leaves a half-transparent row. Qt's antialiasing leaves
    a bleed of about 1 % on curved outlines, invisible, hence the small tolerance."""
    image = image_of("idle", size)
    column = size // 2
    rows = [image.pixelColor(column, y).alpha() for y in range(size)]
    edge = next(y for y, alpha in enumerate(rows) if alpha > 8)
    assert rows[edge] > 247
    assert edge == 0 or rows[edge - 1] <= 8


@pytest.mark.parametrize("size", [16, 24])
def test_states_are_told_apart_at_small_sizes(qapp: QApplication, size: int):
    images = {state: image_of(state, size) for state in STATES}
    for first, second in itertools.combinations(STATES, 2):
        a, b = images[first], images[second]
        differing = sum(1 for y in range(size) for x in range(size)
                        if a.pixelColor(x, y) != b.pixelColor(x, y))
        # A 16 px badge alone covers about 40 pixels; a few stray pixels would not do.
        assert differing >= size, f"{first} and {second} look alike at {size} px"


def test_each_badge_has_its_own_colour(qapp: QApplication):
    """Colour as well as shape: the badge corner's dominant hue differs per state."""
    hues = {}
    for state in STATES[1:]:
        image = image_of(state, 16)
        corner = [image.pixelColor(x, y) for y in range(10, 16) for x in range(10, 16)]
        solid = [c for c in corner if c.alpha() == 255 and c.hsvSaturationF() > 0.5]
        assert solid, f"{state} has no coloured badge"
        hues[state] = round(sum(c.hsvHueF() for c in solid) / len(solid), 2)
    for first, second in itertools.combinations(hues, 2):
        assert abs(hues[first] - hues[second]) > 0.04, (first, second, hues)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("taskbar", [LIGHT_TASKBAR, DARK_TASKBAR], ids=["light", "dark"])
def test_icons_stand_out_on_light_and_dark_taskbars(qapp: QApplication, state: str,
                                                    taskbar: QColor):
    image = image_of(state, 16)
    solid = [image.pixelColor(x, y) for y in range(16) for x in range(16)
             if image.pixelColor(x, y).alpha() == 255]
    visible = [c for c in solid if contrast(c, taskbar) >= 2.5]
    assert len(visible) > len(solid) * 0.5


def test_state_icon_holds_every_size(qapp: QApplication):
    icon = state_icon("learning")
    assert sorted(s.width() for s in icon.availableSizes()) == sorted(SIZES)
    for size in SIZES:
        drawn = icon.pixmap(size).toImage()
        assert same_pixels(drawn, state_pixmap("learning", size).toImage())


def test_app_icon_is_the_idle_mark(qapp: QApplication):
    icon = app_icon()
    assert same_pixels(icon.pixmap(32).toImage(), state_pixmap("idle", 32).toImage())
    assert not same_pixels(icon.pixmap(32).toImage(), state_pixmap("error", 32).toImage())


def test_unknown_state_names_the_allowed_ones(qapp: QApplication):
    with pytest.raises(ValueError, match="idle, learning, answering, paused, error"):
        state_pixmap("sleeping", 16)
    with pytest.raises(ValueError, match="sleeping"):
        state_icon("sleeping")


def test_too_small_size_is_refused(qapp: QApplication):
    with pytest.raises(ValueError, match="16 px"):
        state_pixmap("idle", 8)


def test_ico_packing_round_trips(make_icons: ModuleType):
    images = [make_icons.IcoImage(size, make_icons_png(size, state))
              for size, state in zip(SIZES, itertools.cycle(STATES), strict=False)]
    data = make_icons.pack_ico(images)

    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind, count) == (0, 1, len(SIZES))
    # The 256 px entry stores its width and height as 0, as the format requires.
    last_entry = 6 + 16 * (count - 1)
    assert data[last_entry:last_entry + 2] == b"\x00\x00"

    parsed = make_icons.parse_ico(data)
    assert [image.size for image in parsed] == list(SIZES)
    for original, back in zip(images, parsed, strict=True):
        assert back.png == original.png
        decoded = png_image(back.png)
        assert (decoded.width(), decoded.height()) == (back.size, back.size)


def test_ico_packer_refuses_what_windows_cannot_read(make_icons: ModuleType):
    png = make_icons_png(16, "idle")
    with pytest.raises(ValueError, match="at least one"):
        make_icons.pack_ico([])
    with pytest.raises(ValueError, match="not PNG"):
        make_icons.pack_ico([make_icons.IcoImage(16, b"BM not a png")])
    with pytest.raises(ValueError, match="1 to 256"):
        make_icons.pack_ico([make_icons.IcoImage(512, png)])


def test_ico_parser_rejects_broken_files(make_icons: ModuleType):
    good = make_icons.pack_ico([make_icons.IcoImage(16, make_icons_png(16, "idle"))])
    with pytest.raises(ValueError, match="header"):
        make_icons.parse_ico(b"\x00\x00\x02\x00\x01\x00" + good[6:])
    with pytest.raises(ValueError, match="complete PNG"):
        make_icons.parse_ico(good[:-10])
    with pytest.raises(ValueError, match="too short"):
        make_icons.parse_ico(b"\x00")


def test_write_icons_makes_both_files(make_icons: ModuleType, tmp_path: Path):
    ico, png = make_icons.write_icons(tmp_path / "out")
    assert [image.size for image in make_icons.parse_ico(ico.read_bytes())] == list(SIZES)
    assert png_image(png.read_bytes()).width() == 256


def test_shipped_icon_files_hold_every_size_and_match_the_drawing(make_icons: ModuleType):
    """resources/ holds what the code draws today: rerun packaging/make_icons.py when
    the drawing changes."""
    ico = resources_dir() / "nexus.ico"
    parsed = make_icons.parse_ico(ico.read_bytes())
    assert [image.size for image in parsed] == list(SIZES)
    for image in parsed:
        assert same_pixels(png_image(image.png), state_pixmap("idle", image.size).toImage())
    shipped_png = png_image((resources_dir() / "nexus.png").read_bytes())
    assert same_pixels(shipped_png, state_pixmap("idle", 256).toImage())
