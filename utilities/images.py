"""Images for engines: open with Pillow, flatten transparency onto white, RGB, bounded size.

Pillow's decompression-bomb guard stays on, and its warning is an error here:
an image over ``Image.MAX_IMAGE_PIXELS`` is refused rather than decoded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from utilities.errors import ImageLoadError


def load_image(path: Path, max_side: int) -> Image.Image:
    """An RGB copy of the image whose longest side is at most ``max_side`` pixels.

    Raises ImageLoadError naming the file when it cannot be read or decoded.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale
                img.load()
                image = _flatten(img)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageLoadError(f"{path}: image too large to decode safely ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{path}: corrupt or unreadable image ({type(exc).__name__}: {exc})") from None
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def _flatten(img: Image.Image) -> Image.Image:
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")
