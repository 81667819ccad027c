"""Small JPEG thumbnails of a dataset's first images, for the version page's preview.

Pillow decodes the image (EXIF orientation applied, palette, alpha, CMYK and 16-bit modes turned
into RGB or greyscale) and shrinks it to fit a square of `MAX_SIDE` pixels, never enlarging it.
Anything Pillow cannot read is a `ThumbnailError`, which the validator reports as a warning.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from itertools import zip_longest

from PIL import Image, ImageOps

MAX_SIDE = 160
JPEG_QUALITY = 80
# Decoding is bounded by the pixel count, not the file size: a small PNG can declare a huge canvas.
MAX_PIXELS = 50_000_000
MAX_SOURCE_BYTES = 16 * 1024 * 1024
COUNT = 8


class ThumbnailError(Exception):
    """The bytes are not an image Pillow can read, or one too large to decode."""


def make_thumbnail(data: bytes, max_side: int = MAX_SIDE) -> bytes:
    """A JPEG no larger than `max_side` on its longer side, upright as the camera meant it."""
    if len(data) > MAX_SOURCE_BYTES:
        raise ThumbnailError(f"{len(data)} bytes, more than the {MAX_SOURCE_BYTES} read for a thumbnail")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ThumbnailError(f"{image.width}×{image.height} pixels, too many to decode")
            image.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale, much faster
            upright = ImageOps.exif_transpose(image)
            small = _jpeg_mode(upright)
            small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            small.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
            return out.getvalue()
    except ThumbnailError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        # OSError covers unidentified and truncated images; ValueError and SyntaxError are what
        # some of Pillow's decoders raise on malformed headers.
        raise ThumbnailError(str(exc) or type(exc).__name__) from exc


def _jpeg_mode(image: Image.Image) -> Image.Image:
    """RGB or greyscale, which JPEG can hold; transparency becomes a white background."""
    if image.mode in ("RGB", "L"):
        return image.copy() if image.mode == "RGB" else image
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return image.point(lambda v: v / 256).convert("L") if image.mode != "F" else image.convert("L")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, 1


def pick_sources(
    images: list[str], label_of: Callable[[str], str | None], count: int = COUNT
) -> dict[str, str | None]:
    """Up to `count` images, in turn from each class (in the order classes first appear), so that
    the preview shows several classes rather than the first one's first images; path → label."""
    by_label: dict[str | None, list[str]] = {}
    for path in images:
        by_label.setdefault(label_of(path), []).append(path)
    picked: dict[str, str | None] = {}
    for row in zip_longest(*by_label.values()):
        for path in row:
            if path is not None and len(picked) < count:
                picked[path] = label_of(path)
    return picked
