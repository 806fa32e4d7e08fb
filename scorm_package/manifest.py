"""imsmanifest.xml for SCORM 1.2 and SCORM 2004 4th edition, built with lxml and validated against the
official schemas (vendored in ``scorm_package/schemas/``).

The manifest describes one SCO (``index.html``) with its own navigation: Moodle's 2004 sequencing is
partial and many LMSs ignore imsss rules, so no sequencing is declared.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lxml import etree

from scorm_package.exceptions import ManifestInvalid
from scorm_package.model import Course

SCHEMA_DIR = Path(__file__).parent / "schemas"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"

STANDARDS = ("scorm12", "scorm2004")

NS12 = {
    None: "http://www.imsproject.org/xsd/imscp_rootv1p1p2",
    "adlcp": "http://www.adlnet.org/xsd/adlcp_rootv1p2",
    "imsmd": "http://www.imsglobal.org/xsd/imsmd_rootv1p2p1",
}
LOC12 = {
    NS12[None]: "imscp_rootv1p1p2.xsd",
    NS12["adlcp"]: "adlcp_rootv1p2.xsd",
    NS12["imsmd"]: "imsmd_rootv1p2p1.xsd",
}
NS2004 = {
    None: "http://www.imsglobal.org/xsd/imscp_v1p1",
    "adlcp": "http://www.adlnet.org/xsd/adlcp_v1p3",
    "adlseq": "http://www.adlnet.org/xsd/adlseq_v1p3",
    "adlnav": "http://www.adlnet.org/xsd/adlnav_v1p3",
    "imsss": "http://www.imsglobal.org/xsd/imsss",
}
LOC2004 = {
    NS2004[None]: "imscp_v1p1.xsd",
    NS2004["adlcp"]: "adlcp_v1p3.xsd",
    NS2004["adlseq"]: "adlseq_v1p3.xsd",
    NS2004["adlnav"]: "adlnav_v1p3.xsd",
    NS2004["imsss"]: "imsss_v1p0.xsd",
}


def schema_files(standard: str) -> list[Path]:
    """The schema files shipped at the root of a package of this standard (as published, unmended)."""
    return sorted((SCHEMA_DIR / _folder(standard)).glob("*.xsd"))


def _folder(standard: str) -> str:
    if standard not in STANDARDS:
        raise ValueError(f"unknown standard {standard!r}")
    return standard


def _q(ns: dict[str | None, str], prefix: str | None, name: str) -> str:
    return f"{{{ns[prefix]}}}{name}"


def build_manifest(course: Course, standard: str, files: Iterable[str]) -> bytes:
    """The manifest as bytes: one organization, one item, one SCO resource listing every file."""
    ns = NS12 if standard == "scorm12" else NS2004
    locations = LOC12 if standard == "scorm12" else LOC2004
    ident = f"{course.id}-{standard}"
    root = etree.Element(_q(ns, None, "manifest"), nsmap={**ns, "xsi": XSI})  # type: ignore[dict-item]
    root.set("identifier", ident)
    root.set("version", course.version)
    root.set(f"{{{XSI}}}schemaLocation", " ".join(f"{k} {v}" for k, v in locations.items()))

    metadata = etree.SubElement(root, _q(ns, None, "metadata"))
    etree.SubElement(metadata, _q(ns, None, "schema")).text = "ADL SCORM"
    if standard == "scorm12":
        etree.SubElement(metadata, _q(ns, None, "schemaversion")).text = "1.2"
        _lom12(metadata, course)
    else:
        etree.SubElement(metadata, _q(ns, None, "schemaversion")).text = "2004 4th Edition"

    orgs = etree.SubElement(root, _q(ns, None, "organizations"), default="org")
    org = etree.SubElement(orgs, _q(ns, None, "organization"), identifier="org")
    etree.SubElement(org, _q(ns, None, "title")).text = course.title["nl"]
    item = etree.SubElement(
        org, _q(ns, None, "item"), identifier="item-course", identifierref="sco"
    )
    item.set("isvisible", "true")
    etree.SubElement(item, _q(ns, None, "title")).text = course.title["nl"]
    if standard == "scorm2004":
        # One SCO, its own navigation: let the LMS show its own controls, no sequencing rules.
        seq = etree.SubElement(org, _q(ns, "imsss", "sequencing"))
        control = etree.SubElement(seq, _q(ns, "imsss", "controlMode"))
        control.set("choice", "true")
        control.set("flow", "true")

    resources = etree.SubElement(root, _q(ns, None, "resources"))
    res = etree.SubElement(resources, _q(ns, None, "resource"), identifier="sco", type="webcontent")
    res.set(_q(ns, "adlcp", "scormtype" if standard == "scorm12" else "scormType"), "sco")
    res.set("href", "index.html")
    for name in sorted(files):
        if name == "imsmanifest.xml" or name.endswith(".xsd"):
            continue
        etree.SubElement(res, _q(ns, None, "file"), href=name)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _lom12(metadata: Any, course: Course) -> None:
    md = NS12["imsmd"]
    lom = etree.SubElement(metadata, f"{{{md}}}lom")
    general = etree.SubElement(lom, f"{{{md}}}general")
    title = etree.SubElement(general, f"{{{md}}}title")
    for lang, text in course.title.items():
        etree.SubElement(title, f"{{{md}}}langstring", {f"{{{XML_NS}}}lang": lang}).text = text
    etree.SubElement(general, f"{{{md}}}language").text = course.language
    if course.description.get("nl"):
        desc = etree.SubElement(general, f"{{{md}}}description")
        for lang, text in course.description.items():
            etree.SubElement(desc, f"{{{md}}}langstring", {f"{{{XML_NS}}}lang": lang}).text = text


# --------------------------------------------------------------------------- validation
class _SchemaResolver(etree.Resolver):
    """Serves the vendored schema files, mending the two that libxml2 2.14 rejects (in memory)."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:  # type: ignore[override]
        name = system_url.rsplit("/", 1)[-1]
        path = self.folder / name
        if not name.endswith(".xsd") or not path.is_file():
            return None
        text = path.read_text(encoding="utf-8")
        if name == "ims_xml.xsd":
            # Its default namespace is the XML namespace itself, which libxml2 refuses to bind.
            text = text.replace('xmlns="http://www.w3.org/XML/1998/namespace"', "", 1)
        elif name == "imsmd_rootv1p2p1.xsd":
            # ##any after optional elements of the same namespace is non-deterministic (UPA).
            text = text.replace('namespace="##any"', 'namespace="##other"')
        text = re.sub(r"<!DOCTYPE[^>]*>", "", text, count=1)  # xml.xsd: no DTD, no network
        return self.resolve_string(text, context, base_url=path.as_uri())


@functools.cache
def load_schema(standard: str) -> etree.XMLSchema:
    """A driver schema importing every namespace the manifest uses (cached per standard)."""
    folder = SCHEMA_DIR / _folder(standard)
    locations = LOC12 if standard == "scorm12" else LOC2004
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{loc}"/>' for ns, loc in locations.items()
    )
    driver = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    parser.resolvers.add(_SchemaResolver(folder))
    doc = etree.fromstring(driver.encode(), parser, base_url=(folder / "driver.xsd").as_uri())
    return etree.XMLSchema(doc)


def validate_manifest(data: bytes, standard: str, where: str = "imsmanifest.xml") -> None:
    """Raise ManifestInvalid naming the line of the first schema violation."""
    schema = load_schema(standard)
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    try:
        doc = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ManifestInvalid(f"not well-formed XML: {exc.msg}", where, exc.lineno) from None
    if not schema.validate(doc):
        err = schema.error_log[0]  # type: ignore[index]
        raise ManifestInvalid(
            f"does not match the {standard} schemas: {err.message}", where, err.line
        )
    if standard == "scorm2004":
        # The lax imscp wildcards let a lower-case adlcp:scormtype through; LMSs then see an asset.
        for res in doc.iter(f"{{{NS2004[None]}}}resource"):
            if res.get(f"{{{NS2004['adlcp']}}}scormType") is None:
                line = res.sourceline if isinstance(res.sourceline, int) else None
                raise ManifestInvalid("a resource lacks adlcp:scormType", where, line)
