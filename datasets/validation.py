"""Format checks and label statistics per label format: ImageFolder, COCO JSON, YOLO, CSV, JSONL.

A validator sees the manifest paths, asks for the bytes of the label files it needs, and produces a
report: errors, warnings, record count, class distribution, a chart series and a preview. Image
formats also ask for a few images and make thumbnails of them, stored beside the manifest as the
validator's artifacts (`thumbs/0.jpg`…) and listed in the report.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from collections import Counter
from typing import Any

from aicommons.portal.core.errors import InvalidInput

from . import thumbnails
from .scan import mask_text

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
# Restricted (L3) data is usable but not visible: a masked preview row hides its personal data, a
# thumbnail cannot (faces, number plates, documents), so none is made; L4 is never published.
THUMBNAIL_LEVELS = frozenset({"L1", "L2"})
SPLITS = frozenset({"train", "val", "valid", "validation", "test"})
MAX_ERRORS = 50
PREVIEW_ROWS = 5
MAX_LABEL_FILE_BYTES = 256 * 1024 * 1024


def _suffix(path: str) -> str:
    return posixpath.splitext(path)[1].lower()


class Validator:
    label_format = "none"

    def __init__(
        self, paths: list[str], classes: list[str], label_column: str = "label", thumbnails: bool = True
    ) -> None:
        self.paths = paths
        self.classes = classes
        self.label_column = label_column
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.counts: Counter[str] = Counter()
        self.records = 0
        self.preview: list[Any] = []
        # Images to make thumbnails of (path → class label, if the layout says it) and those made.
        self.thumbnail_sources: dict[str, str | None] = self.pick_thumbnails() if thumbnails else {}
        self.thumbs: dict[str, bytes] = {}

    def pick_thumbnails(self) -> dict[str, str | None]:
        return {}

    def wants(self, path: str) -> bool:
        return False

    def add(self, path: str, data: bytes) -> None:
        pass

    def finish(self) -> None:
        pass

    def wants_image(self, path: str) -> bool:
        return path in self.thumbnail_sources

    def add_image(self, path: str, data: bytes) -> None:
        """A thumbnail of one of the picked images; an unreadable image is a warning, not an error
        (the dataset may still be fine for training; the steward decides)."""
        try:
            self.thumbs[path] = thumbnails.make_thumbnail(data)
        except thumbnails.ThumbnailError as exc:
            self.warnings.append(f"{path}: no thumbnail, not a readable image ({exc})")

    def thumbnail_label(self, path: str) -> str | None:
        return self.thumbnail_sources.get(path)

    def _thumbnail_entries(self) -> list[tuple[str, str, bytes]]:
        made = [p for p in self.thumbnail_sources if p in self.thumbs]
        return [(f"thumbs/{index}.jpg", path, self.thumbs[path]) for index, path in enumerate(made)]

    def artifacts(self) -> dict[str, tuple[bytes, str]]:
        """Objects to store beside the version's manifest (name → bytes, content type), such as
        preview thumbnails; written once the version's files are verified."""
        return {name: (data, "image/jpeg") for name, _, data in self._thumbnail_entries()}

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    def count(self, label: str) -> None:
        self.counts[label] += 1
        self.records += 1

    def report(self) -> dict[str, Any]:
        self.finish()
        if self.classes:
            unknown = sorted(set(self.counts) - set(self.classes))
            if unknown:
                self.error(f"labels not in the schema's classes: {', '.join(unknown[:20])}")
            missing = [c for c in self.classes if c not in self.counts]
            if missing and self.records:
                self.warnings.append(f"classes without examples: {', '.join(missing[:20])}")
        ordered = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "format": self.label_format,
            "ok": not self.errors,
            "errors": self.errors,
            "warnings": self.warnings,
            "file_count": len(self.paths),
            "record_count": self.records,
            "class_count": len(self.counts),
            "class_distribution": dict(ordered),
            "chart": {"type": "bar", "labels": [k for k, _ in ordered], "values": [v for _, v in ordered]},
            "preview": _masked(self.preview),
            "thumbnails": [
                {"name": name, "path": path, "label": self.thumbnail_label(path)}
                for name, path, _ in self._thumbnail_entries()
            ],
        }


class ImageFolderValidator(Validator):
    """`[split/]class/image.ext`: the class is the image's parent folder."""

    label_format = "imagefolder"

    def pick_thumbnails(self) -> dict[str, str | None]:
        images = [p for p in self.paths if _suffix(p) in IMAGE_SUFFIXES and _folder_class(p)]
        return thumbnails.pick_sources(images, _folder_class)

    def wants(self, path: str) -> bool:
        return self.wants_image(path)

    def add(self, path: str, data: bytes) -> None:
        self.add_image(path, data)

    def finish(self) -> None:
        images = [p for p in self.paths if _suffix(p) in IMAGE_SUFFIXES]
        if not images:
            self.error("no image files found")
        for path in images:
            parts = path.split("/")
            if len(parts) < 2 or (len(parts) == 2 and parts[0] in SPLITS):
                self.error(f"{path}: images must sit in a folder named after their class")
                continue
            self.count(parts[-2])
        self.preview = [{"path": p, "label": p.split("/")[-2]} for p in images[:PREVIEW_ROWS] if "/" in p]


def _folder_class(path: str) -> str | None:
    """The class an ImageFolder layout gives an image: its parent folder, unless that is a split."""
    parts = path.split("/")
    if len(parts) < 2 or (len(parts) == 2 and parts[0] in SPLITS):
        return None
    return parts[-2]


def _first_images(paths: list[str], under: str = "") -> dict[str, str | None]:
    """The first images (under a folder such as `images/` if any are), labels unknown yet."""
    images = sorted(p for p in paths if _suffix(p) in IMAGE_SUFFIXES)
    within = [p for p in images if f"/{under}" in f"/{p}"] if under else []
    return thumbnails.pick_sources(within or images, lambda _: None)


class CocoValidator(Validator):
    label_format = "coco"

    def pick_thumbnails(self) -> dict[str, str | None]:
        return _first_images(self.paths)

    def wants(self, path: str) -> bool:
        return _suffix(path) == ".json" or self.wants_image(path)

    def add(self, path: str, data: bytes) -> None:
        if _suffix(path) != ".json":
            self.add_image(path, data)
            return
        try:
            doc = json.loads(data)
        except ValueError as exc:
            self.error(f"{path}: not valid JSON ({exc})")
            return
        if not isinstance(doc, dict) or not {"images", "annotations", "categories"} <= set(doc):
            return  # another JSON file, not a COCO annotation file
        self.seen = True
        categories = {c.get("id"): str(c.get("name")) for c in doc["categories"] if isinstance(c, dict)}
        image_ids = {i.get("id") for i in doc["images"] if isinstance(i, dict)}
        files = set(self.paths)
        folder = posixpath.dirname(path)
        missing = [
            i.get("file_name")
            for i in doc["images"]
            if isinstance(i, dict)
            and not (
                {str(i.get("file_name")), posixpath.join(folder, str(i.get("file_name")))} & files
                or any(p.endswith("/" + str(i.get("file_name"))) for p in files)
            )
        ]
        if missing:
            self.warnings.append(f"{path}: {len(missing)} images not in the upload, e.g. {missing[0]}")
        for index, ann in enumerate(doc["annotations"]):
            if not isinstance(ann, dict) or ann.get("category_id") not in categories:
                self.error(f"{path}: annotation {index} has an unknown category_id")
                continue
            if ann.get("image_id") not in image_ids:
                self.error(f"{path}: annotation {index} refers to unknown image_id {ann.get('image_id')}")
                continue
            self.count(categories[ann["category_id"]])
        self.preview.extend(doc["annotations"][: PREVIEW_ROWS - len(self.preview)])
        self._label_thumbnails(doc, categories, folder)

    def _label_thumbnails(self, doc: dict[str, Any], categories: dict[Any, str], folder: str) -> None:
        """A picked image's label: the category of its first annotation."""
        picked = {posixpath.basename(p): p for p in self.thumbnail_sources}
        ids = {
            i.get("id"): picked[posixpath.basename(str(i.get("file_name")))]
            for i in doc["images"]
            if isinstance(i, dict) and posixpath.basename(str(i.get("file_name"))) in picked
        }
        labels: dict[str, str] = getattr(self, "labels", {})
        for ann in doc["annotations"]:
            if isinstance(ann, dict) and ann.get("image_id") in ids and ann.get("category_id") in categories:
                labels.setdefault(ids[ann["image_id"]], categories[ann["category_id"]])
        self.labels = labels

    def thumbnail_label(self, path: str) -> str | None:
        return getattr(self, "labels", {}).get(path)

    def finish(self) -> None:
        if not getattr(self, "seen", False):
            self.error("no COCO annotation file (JSON with images, annotations and categories) found")


class YoloValidator(Validator):
    """`labels/**.txt` with `class cx cy w h` per line, coordinates normalised to [0, 1]."""

    label_format = "yolo"

    def pick_thumbnails(self) -> dict[str, str | None]:
        return _first_images(self.paths, under="images/")

    def wants(self, path: str) -> bool:
        name = posixpath.basename(path)
        return (
            name in ("classes.txt", "data.yaml")
            or ("labels/" in f"/{path}" and _suffix(path) == ".txt")
            or self.wants_image(path)
        )

    def add(self, path: str, data: bytes) -> None:
        if self.wants_image(path):
            self.add_image(path, data)
            return
        name = posixpath.basename(path)
        text = data.decode("utf-8", errors="replace")
        if name == "classes.txt":
            if not self.classes:
                self.classes = [line.strip() for line in text.splitlines() if line.strip()]
            return
        if name == "data.yaml":
            return
        self.label_files = getattr(self, "label_files", 0) + 1
        for line_no, line in enumerate(text.splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            try:
                class_id = int(fields[0])
                coords = [float(v) for v in fields[1:]]
            except ValueError:
                self.error(f"{path}:{line_no}: not numbers")
                continue
            if len(coords) < 4 or len(coords) % 2 or any(not 0.0 <= c <= 1.0 for c in coords):
                self.error(f"{path}:{line_no}: expected class cx cy w h in [0, 1]")
                continue
            label = self.classes[class_id] if 0 <= class_id < len(self.classes) else str(class_id)
            self.count(label)
            if len(self.preview) < PREVIEW_ROWS:
                self.preview.append({"file": path, "line": line})

    def finish(self) -> None:
        if not getattr(self, "label_files", 0):
            self.error("no YOLO label files (labels/*.txt) found")


class CsvValidator(Validator):
    label_format = "csv"

    def wants(self, path: str) -> bool:
        return _suffix(path) in (".csv", ".tsv")

    def add(self, path: str, data: bytes) -> None:
        text = data.decode("utf-8-sig", errors="replace")
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if _suffix(path) == ".tsv" else ",")
        if not reader.fieldnames or self.label_column not in reader.fieldnames:
            self.error(f"{path}: no label column {self.label_column!r} (columns: {reader.fieldnames})")
            return
        self.tables = getattr(self, "tables", 0) + 1
        try:
            for row in reader:
                value = (row.get(self.label_column) or "").strip()
                if not value:
                    self.error(f"{path}:{reader.line_num}: empty label")
                    continue
                self.count(value)
                if len(self.preview) < PREVIEW_ROWS:
                    self.preview.append(row)
        except csv.Error as exc:
            self.error(f"{path}:{reader.line_num}: {exc}")

    def finish(self) -> None:
        if not getattr(self, "tables", 0):
            self.error("no CSV file with the label column found")


class JsonlValidator(Validator):
    label_format = "jsonl"

    def wants(self, path: str) -> bool:
        return _suffix(path) in (".jsonl", ".ndjson")

    def add(self, path: str, data: bytes) -> None:
        self.files_seen = getattr(self, "files_seen", 0) + 1
        for line_no, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                self.error(f"{path}:{line_no}: not valid JSON")
                continue
            if not isinstance(record, dict) or self.label_column not in record:
                self.error(f"{path}:{line_no}: no field {self.label_column!r}")
                continue
            labels = record[self.label_column]
            for label in labels if isinstance(labels, list) else [labels]:
                self.count(str(label))
            if len(self.preview) < PREVIEW_ROWS:
                self.preview.append(record)

    def finish(self) -> None:
        if not getattr(self, "files_seen", 0):
            self.error("no JSONL file found")


def _masked(preview: list[Any]) -> list[Any]:
    """Previews never show personal data: every finding in them is masked."""
    text, _ = mask_text(json.dumps(preview, ensure_ascii=False, default=str))
    return list(json.loads(text))


VALIDATORS: dict[str, type[Validator]] = {
    "none": Validator,
    "imagefolder": ImageFolderValidator,
    "coco": CocoValidator,
    "yolo": YoloValidator,
    "csv": CsvValidator,
    "jsonl": JsonlValidator,
}


def validator_for(
    label_format: str, paths: list[str], label_schema: dict[str, Any], level: str | None = None
) -> Validator:
    """The validator of a label format; with the dataset's security `level`, thumbnails only where
    it allows them (THUMBNAIL_LEVELS). A caller that does not pass the level gets thumbnails, and
    the route that serves them refuses levels without them."""
    cls = VALIDATORS.get(label_format)
    if cls is None:
        raise InvalidInput("dataset.unknown_format", format=label_format)
    return cls(
        paths,
        list(label_schema.get("classes") or []),
        str(label_schema.get("label_column") or "label"),
        thumbnails=level is None or level in THUMBNAIL_LEVELS,
    )
