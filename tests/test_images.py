"""The engine image helper: RGB, transparency on white, bounded size, clear errors."""

from __future__ import annotations

import pytest
from PIL import Image

from utilities.config import PlanSettings
from utilities.errors import ImageLoadError
from utilities.images import load_image

from .conftest import write_png

MAX_SIDE = PlanSettings().max_image_side  # MAX_IMAGE_SIDE's default


def test_transparent_png_is_composited_onto_white(tmp_path):
    path = tmp_path / "t.png"
    image = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    image.putpixel((0, 0), (0, 0, 255, 255))
    image.save(path)
    loaded = load_image(path, MAX_SIDE)
    assert loaded.mode == "RGB"
    assert loaded.getpixel((5, 5)) == (255, 255, 255)
    assert loaded.getpixel((0, 0)) == (0, 0, 255)


def test_palette_png_with_transparency(tmp_path):
    path = tmp_path / "p.png"
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    image.putpixel((1, 1), 1)
    image.info["transparency"] = 0
    image.save(path, transparency=0)
    loaded = load_image(path, MAX_SIDE)
    assert loaded.getpixel((0, 0)) == (255, 255, 255)
    assert loaded.getpixel((1, 1)) == (10, 200, 10)


def test_wide_png_is_downscaled_to_max_side(tmp_path):
    path = write_png(tmp_path / "wide.png", size=(10_000, 300))
    loaded = load_image(path, max_side=2048)
    assert loaded.size == (2048, 61)
    assert load_image(path, max_side=20_000).size == (10_000, 300)


def test_grayscale_and_jpeg_become_rgb(tmp_path):
    gray = tmp_path / "g.png"
    Image.new("L", (30, 20), 128).save(gray)
    jpeg = tmp_path / "j.JPG"
    Image.new("RGB", (3000, 1000), (0, 128, 255)).save(jpeg, "JPEG")
    assert load_image(gray, MAX_SIDE).mode == "RGB"
    loaded = load_image(jpeg, max_side=1000)
    assert loaded.mode == "RGB" and max(loaded.size) == 1000


@pytest.mark.parametrize(
    "content", [b"", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, b"not an image at all"], ids=["empty", "png", "text"]
)
def test_corrupt_image_raises_error_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match=r"broken\.png: corrupt or unreadable image"):
        load_image(path, MAX_SIDE)


def test_truncated_png_is_an_error(tmp_path):
    good = write_png(tmp_path / "good.png", size=(200, 200), color=(1, 2, 3))
    data = good.read_bytes()
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError, match=r"truncated\.png"):
        load_image(truncated, MAX_SIDE)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = write_png(tmp_path / "bomb.png", size=(400, 400))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)
    with pytest.raises(ImageLoadError, match=r"bomb\.png: image too large to decode safely"):
        load_image(path, MAX_SIDE)
