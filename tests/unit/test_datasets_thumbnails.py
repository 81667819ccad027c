"""Thumbnails of a dataset's first images: size, modes, orientation, unreadable input; the
validators that pick and make them."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from aicommons.datasets.thumbnails import (
    MAX_SOURCE_BYTES,
    ThumbnailError,
    make_thumbnail,
    pick_sources,
)
from aicommons.datasets.validation import validator_for


def _encoded(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


@pytest.mark.parametrize(("size", "expected"), [((800, 600), (160, 120)), ((300, 1200), (40, 160))])
def test_fits_the_longer_side(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert _open(make_thumbnail(_encoded(Image.new("RGB", size, "red")))).size == expected


def test_small_images_are_never_enlarged() -> None:
    assert _open(make_thumbnail(_encoded(Image.new("RGB", (50, 30))))).size == (50, 30)


@pytest.mark.parametrize(
    ("mode", "fmt", "expected"),
    [
        ("RGBA", "PNG", "RGB"),
        ("P", "PNG", "RGB"),
        ("LA", "PNG", "RGB"),
        ("CMYK", "JPEG", "RGB"),
        ("CMYK", "TIFF", "RGB"),
        ("I;16", "PNG", "L"),
        ("1", "PNG", "RGB"),
        ("L", "PNG", "L"),
    ],
)
def test_modes_jpeg_cannot_hold_are_converted(mode: str, fmt: str, expected: str) -> None:
    thumb = _open(make_thumbnail(_encoded(Image.new(mode, (320, 200)), fmt)))
    assert thumb.mode == expected and thumb.size == (160, 100)


def test_transparency_becomes_white() -> None:
    clear = Image.new("RGBA", (100, 100), (255, 0, 0, 0))
    assert _open(make_thumbnail(_encoded(clear))).getpixel((50, 50)) == pytest.approx((255, 255, 255), abs=3)


def test_exif_orientation_is_applied() -> None:
    """A landscape sensor image tagged 'rotate 90°' (orientation 6) comes out portrait, with the
    red left edge of the stored pixels at the top."""
    image = Image.new("RGB", (400, 200), "blue")
    image.paste((255, 0, 0), (0, 0, 40, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    thumb = _open(make_thumbnail(_encoded(image, "JPEG", exif=exif.tobytes())))
    assert thumb.size == (80, 160)
    red, _, blue = thumb.getpixel((40, 3))  # type: ignore[misc]
    assert red > 200 and blue < 60


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        _encoded(Image.new("RGB", (64, 64)), "JPEG")[:200],
        b"\x89PNG\r\n\x1a\n" + b"0" * 50,
    ],
)
def test_unreadable_input_is_a_thumbnail_error(data: bytes) -> None:
    with pytest.raises(ThumbnailError):
        make_thumbnail(data)


def test_oversized_input_is_refused_before_decoding() -> None:
    with pytest.raises(ThumbnailError, match="bytes"):
        make_thumbnail(b"\0" * (MAX_SOURCE_BYTES + 1))
    huge = Image.new("1", (10_000, 6_000))  # 60 Mpixel canvas in a small PNG
    with pytest.raises(ThumbnailError, match="pixels"):
        make_thumbnail(_encoded(huge))


def test_pick_sources_spreads_across_classes() -> None:
    paths = [f"train/cat/{i}.jpg" for i in range(10)] + [
        "train/dog/1.jpg",
        "train/dog/2.jpg",
        "train/owl/1.jpg",
    ]
    picked = pick_sources(paths, lambda p: p.split("/")[-2], count=5)
    assert list(picked) == [
        "train/cat/0.jpg",
        "train/dog/1.jpg",
        "train/owl/1.jpg",
        "train/cat/1.jpg",
        "train/dog/2.jpg",
    ]
    assert picked["train/owl/1.jpg"] == "owl"


def _run(fmt: str, files: dict[str, bytes], level: str | None = None) -> tuple[dict, dict]:
    validator = validator_for(fmt, list(files), {}, level)
    for path, data in files.items():
        if validator.wants(path):
            validator.add(path, data)
    return validator.report(), validator.artifacts()


PNG = _encoded(Image.new("RGB", (640, 480), "green"))


def test_imagefolder_thumbnails_are_artifacts_listed_in_the_report() -> None:
    files = {f"train/{c}/{i}.png": PNG for c in ("cat", "dog") for i in range(6)}
    files["train/dog/broken.png"] = b"garbage"
    report, artifacts = _run("imagefolder", files)
    assert len(artifacts) == 8 and set(artifacts) == {f"thumbs/{i}.jpg" for i in range(8)}
    assert all(kind == "image/jpeg" and _open(data).size == (160, 120) for data, kind in artifacts.values())
    assert report["thumbnails"][:2] == [
        {"name": "thumbs/0.jpg", "path": "train/cat/0.png", "label": "cat"},
        {"name": "thumbs/1.jpg", "path": "train/dog/0.png", "label": "dog"},
    ]
    assert report["ok"]


def test_a_corrupt_image_is_a_warning() -> None:
    report, artifacts = _run("imagefolder", {"a/cat/1.png": b"garbage", "a/dog/1.png": PNG})
    assert report["ok"] and any("a/cat/1.png" in w for w in report["warnings"])
    assert [t["path"] for t in report["thumbnails"]] == ["a/dog/1.png"] and list(artifacts) == [
        "thumbs/0.jpg"
    ]


def test_coco_thumbnails_take_the_first_annotation_category() -> None:
    doc = {
        "images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png"}],
        "categories": [{"id": 3, "name": "car"}, {"id": 4, "name": "bus"}],
        "annotations": [{"image_id": 2, "category_id": 4}, {"image_id": 1, "category_id": 3}],
    }
    files = {"images/a.png": PNG, "images/b.png": PNG, "annotations.json": json.dumps(doc).encode()}
    report, artifacts = _run("coco", files)
    assert [(t["path"], t["label"]) for t in report["thumbnails"]] == [
        ("images/a.png", "car"),
        ("images/b.png", "bus"),
    ]
    assert len(artifacts) == 2


def test_yolo_thumbnails_come_from_images() -> None:
    files = {"images/1.png": PNG, "labels/1.txt": b"0 0.5 0.5 0.1 0.1\n", "extra/x.png": PNG}
    report, _ = _run("yolo", files)
    assert [t["path"] for t in report["thumbnails"]] == ["images/1.png"]


@pytest.mark.parametrize(("level", "count"), [("L1", 1), ("L2", 1), ("L3", 0), (None, 1)])
def test_restricted_levels_get_no_thumbnails(level: str | None, count: int) -> None:
    report, artifacts = _run("imagefolder", {"a/cat/1.png": PNG}, level)
    assert len(artifacts) == count and len(report["thumbnails"]) == count


def test_tabular_formats_have_none() -> None:
    report, artifacts = _run("csv", {"t.csv": b"text,label\na,x\n", "pic.png": PNG})
    assert report["thumbnails"] == [] and artifacts == {}
