"""Thumbnails of a version's first images, end to end on SQLite and PostgreSQL with the embedded
store: the processing step stores the validator's thumbnails beside the manifest, the API serves
them by the rules for reading a version (L1, L2 for every signed-in user once published, members
before; never for L3; another organisation's unpublished version is invisible), and the version
pages show them.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from tests.conftest import Portal
from tests.integration.test_datasets_api import API, dataset_body, upload_version
from tests.integration.test_web_datasets import _sign_in


def _png(colour: str, size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


IMAGES = {
    "train/stop/1.png": _png("red"),
    "train/stop/2.png": _png("red"),
    "train/go/1.png": _png("green", (200, 800)),
    "train/go/broken.png": b"not an image",
}


def _images_dataset(bob: TestClient, slug: str, level: str) -> dict[str, Any]:
    body = dataset_body(slug=slug, level=level, label_format="imagefolder", modality="image")
    body["label_schema"] = {"classes": ["stop", "go"]}
    assert bob.post(f"{API}/datasets", json=body).status_code == 201
    return upload_version(bob, slug, IMAGES)


def _thumb(client: TestClient, slug: str, index: int) -> Any:
    return client.get(f"{API}/datasets/{slug}/versions/1/thumbnails/{index}")


def _code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_l1_thumbnails_for_members_then_everyone_once_published(
    client_for: Callable[..., TestClient],
) -> None:
    bob, alice, carol = client_for("bob"), client_for("alice"), client_for("carol")
    version = _images_dataset(bob, "signs", "L1")
    report = version["validation_report"]
    assert report["ok"] and any("broken.png" in w for w in report["warnings"])
    assert report["thumbnails"] == [
        {"name": "thumbs/0.jpg", "path": "train/go/1.png", "label": "go"},
        {"name": "thumbs/1.jpg", "path": "train/stop/1.png", "label": "stop"},
        {"name": "thumbs/2.jpg", "path": "train/stop/2.png", "label": "stop"},  # go/broken.png: none
    ]
    for who in (bob, alice):  # the steward and a member of the owner, before publishing
        served = _thumb(who, "signs", 0)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        image = Image.open(io.BytesIO(served.content))
        assert image.format == "JPEG" and image.size == (40, 160)
        assert image.getpixel((20, 80))[1] > 100  # type: ignore[index]  # the green one
    hidden = _thumb(carol, "signs", 0)  # another organisation, unpublished: not even there
    assert hidden.status_code == 404 and _code(hidden) == "dataset.not_found"
    assert bob.post(f"{API}/datasets/signs/versions/1/publish").status_code == 200
    assert _thumb(carol, "signs", 0).status_code == 200
    missing = _thumb(carol, "signs", 3)
    assert missing.status_code == 404 and _code(missing) == "dataset.no_thumbnail"
    assert "3" in missing.json()["error"]["message"]
    assert _thumb(carol, "signs", 64).status_code == 422
    assert _thumb(client_for(None), "signs", 0).status_code == 401


def test_l2_thumbnails_need_no_licence_acceptance(client_for: Callable[..., TestClient]) -> None:
    """Like the preview rows: looking at a few thumbnails is not downloading the data."""
    bob, carol = client_for("bob"), client_for("carol")
    _images_dataset(bob, "signs-l2", "L2")
    assert _thumb(carol, "signs-l2", 0).status_code == 404
    assert bob.post(f"{API}/datasets/signs-l2/versions/1/publish").status_code == 200
    assert _thumb(carol, "signs-l2", 0).status_code == 200


def test_l3_thumbnails_are_never_served(client_for: Callable[..., TestClient]) -> None:
    bob, carol = client_for("bob"), client_for("carol")
    _images_dataset(bob, "signs-l3", "L3")
    assert bob.post(f"{API}/datasets/signs-l3/versions/1/publish").status_code == 200
    for who in (bob, carol):  # not even the owner: L3 content is usable, not visible
        refused = _thumb(who, "signs-l3", 0)
        assert refused.status_code == 404 and _code(refused) == "dataset.thumbnails_restricted"


def test_l3_thumbnails_are_not_even_made(client_for: Callable[..., TestClient]) -> None:
    version = _images_dataset(client_for("bob"), "signs-l3", "L3")
    assert version["validation_report"]["thumbnails"] == []


def test_version_pages_show_thumbnails_with_their_class(
    portal: Portal, client_for: Callable[..., TestClient]
) -> None:
    _images_dataset(client_for("bob"), "signs", "L1")
    web = _sign_in(portal, "bob", "zh")
    page = web.get("/datasets/signs/versions/1")
    assert page.status_code == 200
    assert 'src="/datasets/signs/versions/1/thumbnails/2"' in page.text
    assert 'alt="train/go/1.png 的缩略图，类别 go"' in page.text
    # The <img> loads with the session cookie alone (no bearer token in a browser), from the web's
    # route: the API takes bearer tokens only.
    served = web.get("/datasets/signs/versions/1/thumbnails/1")
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.content == _thumb(client_for("bob"), "signs", 1).content
    assert web.get("/api/v1/datasets/signs/versions/1/thumbnails/1").status_code == 401
    assert web.get("/datasets/signs/versions/1/thumbnails/3").status_code == 404
    carol = _sign_in(portal, "carol")  # another organisation, unpublished: not even there
    assert carol.get("/datasets/signs/versions/1/thumbnails/1").status_code == 404


def test_version_pages_of_l3_show_none(portal: Portal, client_for: Callable[..., TestClient]) -> None:
    _images_dataset(client_for("bob"), "signs-l3", "L3")
    page = _sign_in(portal, "bob").get("/datasets/signs-l3/versions/1")
    assert page.status_code == 200 and "/thumbnails/" not in page.text
