"""Metadata exports of a dataset: MLCommons Croissant 1.0 and DCAT-AP, both as JSON-LD.

The builders are pure: they take the catalogue rows already loaded (and checked for visibility by
the caller) and return plain dictionaries. Files come from the latest published version's
manifest. Download locations appear only for levels that may be downloaded (L1, L2); for L3 and
L4 the builders drop them whatever the caller passes.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from aicommons.portal.core.principal import Principal

from . import policy, repository, service
from .models import Dataset, DatasetDomain, DatasetVersion, VersionFile

CROISSANT_CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
# The standard context of a Croissant 1.0 document, as published with the specification.
CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
DCAT_CONTEXT: dict[str, Any] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "spdx": "http://spdx.org/rdf/terms#",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
ACCESS_RIGHTS = "http://publications.europa.eu/resource/authority/access-right/"
# L1 open; L2 after accepting the licence and L3 by grant are restricted; L4 never leaves its owner.
_ACCESS_RIGHT = {"L1": "PUBLIC", "L2": "RESTRICTED", "L3": "RESTRICTED", "L4": "NON_PUBLIC"}


@dataclass(frozen=True)
class Publisher:
    """The owning organisation, resolved by the caller (datasets/ does not import portal.orgs)."""

    name: str
    slug: str
    url: str | None = None


@dataclass(frozen=True)
class ExportSource:
    """Everything an export is built from."""

    dataset: Dataset
    version: DatasetVersion | None  # the latest published version, if any
    files: Sequence[VersionFile]
    domain: DatasetDomain | None
    publisher: Publisher
    landing_url: str
    content_url: Callable[[str], str] | None = None  # manifest path → location; L1/L2 only


def licence_url(licence_id: str) -> str | None:
    if not licence_id or licence_id == "custom":
        return None
    return f"https://spdx.org/licenses/{licence_id}.html"


def media_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    if guessed:
        return guessed
    return {
        ".jsonl": "application/jsonlines",
        ".parquet": "application/vnd.apache.parquet",
        ".txt": "text/plain",
    }.get(path[path.rfind(".") :].lower() if "." in path else "", "application/octet-stream")


def _url_for(src: ExportSource, path: str) -> str | None:
    if src.content_url is None or src.dataset.level not in policy.DOWNLOADABLE:
        return None
    return src.content_url(path)


def _classes(ds: Dataset) -> list[str]:
    schema = ds.label_schema or {}
    return [str(c) for c in schema.get("classes") or []]


def _licence(ds: Dataset) -> str:
    return licence_url(ds.licence_id) or ds.licence_name or ds.licence_id


def build_croissant(src: ExportSource) -> dict[str, Any]:
    """A Croissant 1.0 JSON-LD document (sc:Dataset) for the dataset and its latest published files."""
    ds, version = src.dataset, src.version
    doc: dict[str, Any] = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CROISSANT_CONFORMS_TO,
        "name": ds.title_en,
        "alternateName": [ds.title_zh, ds.slug],
        "identifier": ds.slug,
        "description": ds.description_en or ds.title_en,
        "license": _licence(ds),
        "url": src.landing_url,
        "keywords": list(ds.keywords or []),
        "publisher": {"@type": "sc:Organization", "name": src.publisher.name},
        "creator": {"@type": "sc:Organization", "name": src.publisher.name},
        "inLanguage": ["en", "zh"],
        "isAccessibleForFree": ds.level in policy.DOWNLOADABLE,
        "conditionsOfAccess": f"level {ds.level}",
    }
    if src.publisher.url:
        doc["publisher"]["url"] = src.publisher.url
    if src.domain is not None:
        doc["about"] = {"@type": "sc:Thing", "name": src.domain.name_en, "identifier": src.domain.slug}
    if ds.contact:
        doc["publisher"]["email"] = ds.contact
    if version is not None:
        doc["version"] = f"{version.number}.0.0"
        if version.published_at is not None:
            doc["datePublished"] = version.published_at.date().isoformat()
        if version.digest:
            doc["cr:manifestDigest"] = version.digest
    files = []
    for row in src.files:
        entry: dict[str, Any] = {
            "@type": "cr:FileObject",
            "@id": row.path,
            "name": row.path,
            "contentSize": f"{row.size} B",
            "encodingFormat": media_type(row.path),
            "sha256": row.sha256,
        }
        url = _url_for(src, row.path)
        if url is not None:
            entry["contentUrl"] = url
        files.append(entry)
    doc["distribution"] = files
    classes = _classes(ds)
    if classes:
        doc["recordSet"] = [
            {
                "@type": "cr:RecordSet",
                "@id": "classes",
                "name": "classes",
                "description": "The label classes of the dataset.",
                "dataType": "sc:Enumeration",
                "key": {"@id": "classes/name"},
                "field": [
                    {
                        "@type": "cr:Field",
                        "@id": "classes/name",
                        "name": "classes/name",
                        "description": "The name of a class.",
                        "dataType": "sc:Text",
                    }
                ],
                "data": [{"classes/name": c} for c in classes],
            }
        ]
    return doc


def _tagged(en: str, zh: str) -> list[dict[str, str]]:
    return [v for v in ({"@value": en, "@language": "en"}, {"@value": zh, "@language": "zh"}) if v["@value"]]


def build_dcat(src: ExportSource) -> dict[str, Any]:
    """A DCAT-AP style JSON-LD dcat:Dataset with bilingual title and description."""
    ds, version = src.dataset, src.version
    url = licence_url(ds.licence_id)
    licence: dict[str, Any] = (
        {"@id": url, "@type": "dct:LicenseDocument", "dct:identifier": ds.licence_id}
        if url
        else {"@type": "dct:LicenseDocument", "dct:title": ds.licence_name or ds.licence_id}
    )
    publisher: dict[str, Any] = {
        "@type": "foaf:Organization",
        "foaf:name": src.publisher.name,
        "dct:identifier": src.publisher.slug,
    }
    if src.publisher.url:
        publisher["@id"] = src.publisher.url
    doc: dict[str, Any] = {
        "@context": DCAT_CONTEXT,
        "@id": src.landing_url,
        "@type": "dcat:Dataset",
        "dct:identifier": ds.slug,
        "dct:title": _tagged(ds.title_en, ds.title_zh),
        "dct:description": _tagged(ds.description_en, ds.description_zh),
        "dcat:keyword": list(ds.keywords or []),
        "dct:license": licence,
        "dct:publisher": publisher,
        "dct:accessRights": {"@id": ACCESS_RIGHTS + _ACCESS_RIGHT.get(ds.level, "NON_PUBLIC")},
        "dcat:landingPage": {"@id": src.landing_url},
        "dct:modified": {"@value": ds.updated_at.isoformat(), "@type": "xsd:dateTime"},
    }
    if src.domain is not None:
        doc["dcat:theme"] = {
            "@type": "skos:Concept",
            "skos:notation": src.domain.slug,
            "skos:prefLabel": _tagged(src.domain.name_en, src.domain.name_zh),
        }
    else:
        doc["dcat:theme"] = {"@type": "skos:Concept", "skos:notation": ds.domain}
    if ds.contact:
        doc["dcat:contactPoint"] = {"@type": "vcard:Kind", "vcard:fn": ds.contact}
    if ds.provenance:
        doc["dct:provenance"] = {"@type": "dct:ProvenanceStatement", "rdfs:label": ds.provenance}
    if version is not None:
        doc["owl:versionInfo"] = str(version.number)
        if version.published_at is not None:
            doc["dct:issued"] = {"@value": version.published_at.isoformat(), "@type": "xsd:dateTime"}
    distributions = []
    for row in src.files:
        dist: dict[str, Any] = {
            "@type": "dcat:Distribution",
            "dct:title": row.path,
            "dcat:accessURL": {"@id": src.landing_url},
            "dcat:byteSize": {"@value": str(row.size), "@type": "xsd:nonNegativeInteger"},
            "dcat:mediaType": media_type(row.path),
            "dct:license": licence,
            "spdx:checksum": {
                "@type": "spdx:Checksum",
                "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
                "spdx:checksumValue": row.sha256,
            },
        }
        location = _url_for(src, row.path)
        if location is not None:
            dist["dcat:downloadURL"] = {"@id": location}
        distributions.append(dist)
    doc["dcat:distribution"] = distributions
    return doc


def latest_published(session: Session, dataset_id: str) -> DatasetVersion | None:
    published = [v for v in repository.versions(session, dataset_id) if v.state == "published"]
    return published[-1] if published else None


@dataclass(frozen=True)
class ExportRows:
    dataset: Dataset
    version: DatasetVersion | None
    files: list[VersionFile]
    domain: DatasetDomain | None


def load(session: Session, principal: Principal, slug: str) -> ExportRows:
    """The rows an export needs, under the same visibility rule as reading the dataset."""
    ds = service.get(session, principal, slug)
    version = latest_published(session, ds.id)
    files = repository.files(session, version.id) if version is not None else []
    return ExportRows(ds, version, files, repository.domain(session, ds.domain))
