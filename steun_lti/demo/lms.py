"""The local demo LMS: a stand-in for a school's learning platform, clearly labelled as such.

It wraps the test suite's fake LTI 1.3 platform (which signs real RS256 id_tokens, answers the
OIDC, OAuth2, AGS and Dynamic Registration endpoints) and adds the pages a newcomer clicks through:
a course page with launch buttons (teacher 1, teacher 2, teacher 3 enrolled as a student, an admin placing items
by Deep Linking), the gradebook with the AGS scores that came back, a SCORM player for the built
course package (scorm-again as the LMS API in the page), and a researcher's view of the embedded
LRS with the export and report.

Its state (the registration with the tool, placed items, line items, scores and its signing key)
lives in ``<data dir>/demo_lms/`` so that running the demo twice finds the same registration.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import secrets
import sys
import threading
import time
import zipfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import abort

from steun_lti.demo.lms_pages import build_pages
from steun_lti.demo.users import (
    COURSE_CONTEXT,
    PLATFORM_PATHS,
    PLATFORM_PREFIXES,
    ROOT,
    STANDARDS,
    USERS,
    DemoUser,
)
from steun_lti.exceptions import SteunError
from steun_lti.plumbing.secrets import ensure_data_dir, write_private_file
from steun_lti.plumbing.server import bind_error
from steun_lti.plumbing.settings import Settings

log = logging.getLogger("steun.demo")


class DemoError(SteunError):
    """The demo cannot start (not a checkout, a port taken, the tool not answering)."""

    default_message = "The demo could not start."


def platform_module() -> ModuleType:
    """``tests.support.platform``, from the checkout this code runs from."""
    candidate = ROOT / "tests" / "support" / "platform.py"
    if not candidate.exists():
        raise DemoError(
            "The demo LMS reuses tests/support/platform.py and runs only from a checkout of the "
            f"repository (not found under {ROOT}). Clone the repository and run `make demo` there."
        )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    # Imported by name: the demo reuses the test-support module; mypy checks it with the tests.
    return importlib.import_module("tests.support.platform")


def demo_env(settings: Settings) -> dict[str, str]:
    """The environment of the demo's child processes: demo mode, absolute data dir, checkout."""
    env = dict(os.environ)
    env["STEUN_DEMO_MODE"] = "true"
    env["STEUN_DATA_DIR"] = str(settings.data_dir.resolve())
    env.setdefault("STEUN_LOG_LEVEL", "WARNING")  # keep the terminal readable
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DemoLms:
    """The demo LMS: a fake LTI platform plus the demo pages, served in a thread."""

    def __init__(self, settings: Settings, *, port: int) -> None:
        self.settings = settings
        self.port = port
        self.folder = ensure_data_dir(settings.data_dir) / "demo_lms"
        self.folder.mkdir(mode=0o700, exist_ok=True)
        self.dist = settings.data_dir / "dist"
        self.export_dir = settings.data_dir / "export"
        self.node_modules = ROOT / "node_modules"
        self.tool_base = settings.base_url.rstrip("/")
        module = platform_module()
        self._mod = module
        self.platform: Any = module.FakePlatform(registration_token=secrets.token_urlsafe(16))
        self.platform.keys = [self._signing_key()]
        self.placed: list[dict[str, Any]] = []
        self.export_log = ""
        self._lock = threading.Lock()
        self._export_lock = threading.Lock()
        self.app = build_pages(self)

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DemoLms:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log in the terminal
        # werkzeug exits the process on a taken port; ask first, to give a clear error instead.
        problem = bind_error("127.0.0.1", self.port)
        if problem:
            raise DemoError(
                f"The demo LMS cannot listen on 127.0.0.1:{self.port} ({problem}); "
                "is another demo still running? Set STEUN_DEMO_LMS_PORT to use another port."
            )
        # The fake platform derives its issuer from its server, here on the demo's fixed port.
        self.platform.start(port=self.port, app=self.wsgi)
        self._load_state()
        return self

    def stop(self) -> None:
        self.platform.stop()

    # -- state --------------------------------------------------------------------------

    def _signing_key(self) -> Any:
        path = self.folder / "platform_key.pem"
        if path.exists():
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        else:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            write_private_file(path, pem)
        assert isinstance(private, rsa.RSAPrivateKey)
        return self._mod.SigningKey("demo-lms-1", private)

    @property
    def state_file(self) -> Path:
        return self.folder / "state.json"

    def _load_state(self) -> None:
        if not self.state_file.exists():
            return
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except ValueError:
            log.warning("ignoring a damaged %s", self.state_file)
            return
        if state.get("issuer") != self.platform.issuer:
            return  # another port: another LMS as far as the tool is concerned
        if state.get("tool"):
            self.platform.tool = self._mod.ToolRegistration(**state["tool"])
        self.placed = list(state.get("placed", []))
        self.platform.lineitems.update(state.get("lineitems", {}))
        self.platform.scores.extend(state.get("scores", []))

    def save_state(self) -> None:
        with self._lock:
            tool = self.platform.tool
            state = {
                "issuer": self.platform.issuer,
                "tool": asdict(tool) if tool is not None else None,
                "placed": self.placed,
                "lineitems": self.platform.lineitems,
                "scores": self.platform.scores,
            }
            write_private_file(self.state_file, json.dumps(state, indent=1).encode())

    @property
    def registered(self) -> bool:
        return self.platform.tool is not None

    def forget_registration(self) -> None:
        self.platform.tool = None
        self.save_state()

    def registration_url(self, invite_url: str) -> str:
        """What the LMS opens when its admin pastes the tool's one-time registration link."""
        return str(self.platform.registration_url(invite_url))

    # -- WSGI ---------------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path in PLATFORM_PATHS or path.startswith(PLATFORM_PREFIXES):
            result = self.platform.wsgi(environ, start_response)
            if environ.get("REQUEST_METHOD") == "POST":
                self.save_state()  # a registration or a score arrived
            return result
        return self.app(environ, start_response)

    # -- launches -----------------------------------------------------------------------

    def launch_spec(self, user: DemoUser, item: dict[str, Any] | None) -> Any:
        spec = self._mod.LaunchSpec(
            sub=user.sub,
            roles=list(user.roles),
            context_id=COURSE_CONTEXT,
            resource_link_id=item["id"] if item else "demo-steun",
            custom=dict(item.get("custom") or {}) if item else {},
            ags=bool(item and item.get("graded")),
            nrps=False,
            return_url=self.url + "/",
        )
        if user.deep_linking:
            spec.message_type = "LtiDeepLinkingRequest"
        return spec

    def login_form(self, user: DemoUser, item: dict[str, Any] | None) -> dict[str, Any]:
        hint = self.platform.prepare(self.launch_spec(user, item))
        return {
            "action": self.platform.tool.login_url,
            "fields": self.platform.login_params(hint, storage_target="_parent"),
        }

    def item(self, item_id: str | None) -> dict[str, Any] | None:
        if not item_id:
            return None
        for placed in self.placed:
            if placed["id"] == item_id:
                return placed
        abort(404)

    def record_placed(self, claims: dict[str, Any]) -> list[dict[str, Any]]:
        """The items of a Deep Linking response become links in the demo course."""
        items = claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", [])
        added = []
        with self._lock:
            for content in items:
                if content.get("type") != "ltiResourceLink":
                    continue
                item_id = f"item-{len(self.placed) + 1}"
                line_item = content.get("lineItem") or None
                placed = {
                    "id": item_id,
                    "title": str(content.get("title") or "Steun"),
                    "text": str(content.get("text") or ""),
                    "custom": content.get("custom") or {},
                    "graded": line_item is not None,
                    "placed_at": _now(),
                }
                if line_item is not None:
                    url = f"{self.platform.issuer}/ags/{COURSE_CONTEXT}/lineitems/{item_id}"
                    self.platform.lineitems[url] = {
                        "id": url,
                        "label": line_item.get("label") or placed["title"],
                        "scoreMaximum": line_item.get("scoreMaximum", 1),
                        "resourceId": line_item.get("resourceId"),
                        "tag": line_item.get("tag"),
                        "resourceLinkId": item_id,
                    }
                self.placed.append(placed)
                added.append(placed)
        self.save_state()
        return added

    def gradebook(self) -> list[dict[str, Any]]:
        """Per line item, the latest score of each user (as an LMS gradebook shows it)."""
        subs = {u.sub: u for u in USERS.values()}
        columns = []
        for url, item in self.platform.lineitems.items():
            latest: dict[str, dict[str, Any]] = {}
            for score in self.platform.scores:
                if score.get("lineitem") == url:
                    latest[score.get("userId", "?")] = score
            rows = []
            for user_id, score in sorted(latest.items()):
                user = subs.get(user_id)
                rows.append(
                    {
                        "user": f"{user.label} / {user.label_en}" if user else user_id,
                        "score": score.get("scoreGiven"),
                        "maximum": score.get("scoreMaximum"),
                        "activity": score.get("activityProgress"),
                        "grading": score.get("gradingProgress"),
                        "timestamp": score.get("timestamp"),
                    }
                )
            columns.append({"label": item.get("label", url), "rows": rows})
        return columns

    # -- course packages ------------------------------------------------------------------

    def packages(self) -> dict[str, Path]:
        found = {}
        for standard in STANDARDS:
            folder = self.dist / standard
            if (folder / "imsmanifest.xml").exists():
                found[standard] = folder
        return found

    def launch_file(self, standard: str) -> str:
        """The SCO's start page, from the manifest's resource href."""
        from lxml import etree

        manifest = self.dist / standard / "imsmanifest.xml"
        tree = etree.parse(str(manifest))
        for element in tree.iter():
            if isinstance(element.tag, str) and element.tag.endswith("resource"):
                href = element.get("href")
                if href:
                    return href
        return "index.html"

    # -- researcher's view ----------------------------------------------------------------

    def latest_statements(self, limit: int = 30) -> tuple[list[dict[str, Any]], str | None]:
        from steun_lti.records.statements import researcher_credentials

        key, secret = researcher_credentials(self.settings)
        endpoint = self.settings.lrs.endpoint
        try:
            response = requests.get(
                endpoint.rstrip("/") + "/statements",
                params={"limit": str(limit)},
                auth=(key, secret),
                headers={"X-Experience-API-Version": "1.0.3"},
                timeout=5,
            )
        except requests.RequestException as exc:
            return [], f"The LRS at {endpoint} does not answer ({type(exc).__name__})."
        if response.status_code != 200:
            return [], f"The LRS answered {response.status_code}: {response.text[:200]}"
        rows = []
        for statement in response.json().get("statements", []):
            verb = statement.get("verb", {})
            obj = statement.get("object", {})
            display = (obj.get("definition") or {}).get("name") or {}
            rows.append(
                {
                    "stored": str(statement.get("stored", ""))[:19].replace("T", " "),
                    "actor": (statement.get("actor", {}).get("account") or {}).get("name", "?"),
                    "verb": (verb.get("display") or {}).get("en-US")
                    or verb.get("id", "?").rsplit("/", 1)[-1],
                    "object": display.get("nl-NL")
                    or display.get("nl")
                    or display.get("en-US")
                    or obj.get("id", "?"),
                    "object_id": obj.get("id", ""),
                }
            )
        return rows, None

    def export_files(self) -> list[str]:
        if not self.export_dir.is_dir():
            return []
        return sorted(p.name for p in self.export_dir.iterdir() if p.is_file())

    def wait_for_outbox(self, seconds: float = 60) -> str:
        """Until the tool's sender has delivered every queued statement to the LRS."""
        from steun_lti.plumbing.db import Database
        from steun_lti.records.outbox import outbox_status

        database = Database(self.settings.resolved_database_url)
        deadline = time.monotonic() + seconds
        try:
            while True:
                with database.session() as session:
                    status = outbox_status(session)
                waiting = status.counts.get("pending", 0) + status.counts.get("sending", 0)
                if waiting == 0:
                    return f"Outbox: {status.counts.get('delivered', 0)} delivered, none waiting."
                if time.monotonic() > deadline:
                    return f"Outbox: {waiting} statement(s) still waiting ({status.last_error})."
                time.sleep(0.2)
        finally:
            database.dispose()

    def _report_layout(self) -> Any:
        """The study's waves and reasons for the report (None without the questionnaires)."""
        try:
            from steun_lti.questionnaires.registry import load_registry
            from steun_lti.study.definition import bundled_study_path, load_study, report_layout
        except ImportError:
            return None
        registry = load_registry(self.settings.instruments_dir)
        return report_layout(load_study(self.settings.study_file or bundled_study_path(), registry))

    def run_export(self) -> str:
        """What ``steun export`` and ``steun report`` do, on the demo data, into <data dir>/export/.

        In this process (the same library calls as the commands), so the researcher's button
        answers in seconds; the commands themselves are quoted in the log and in the guides.
        """
        from steun_lti.demo.spec import scoring_spec
        from steun_lti.records.statements import make_client
        from xapi.exceptions import LrsError
        from xapi.export import FORMATS, ScoringSpec, collect, export_all
        from xapi.report import write_report

        with self._export_lock:
            lines = [self.wait_for_outbox()]
            client = make_client(self.settings, researcher=True)
            try:
                data = collect(client.iter_statements(), self.settings.base_url)
            except LrsError as exc:
                self.export_log = "\n".join([*lines, f"Error: {exc.message}"])
                return self.export_log
            finally:
                client.close()
            raw = scoring_spec(self.settings)
            spec = ScoringSpec.from_dict(raw) if raw else ScoringSpec()
            command = f"$ steun export {self.export_dir}"
            if raw:
                self.export_dir.mkdir(parents=True, exist_ok=True)
                spec_file = self.export_dir / "scoring-spec.yaml"
                spec_file.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))
                command += f" --spec {spec_file}"
            layout = self._report_layout()
            written = export_all(data, spec, self.export_dir, FORMATS, layout.reasons)
            lines.append(command)
            lines.append(f"Read {data.statements_read:,} statements.")
            lines.extend(f"  {name:<11} {path}" for name, path in written.items())
            report = write_report(data, self.export_dir / "report.html", spec, layout)
            spec_option = f" --spec {self.export_dir / 'scoring-spec.yaml'}" if raw else ""
            lines.append(f"$ steun report {report}{spec_option}")
            lines.append(f"Report of {data.statements_read:,} statements: {report}")
            self.export_log = "\n".join(lines)
            return self.export_log


def unpack_packages(dist: Path) -> list[Path]:
    """Unzip each built package into ``dist/<standard>/`` for the SCORM player page."""
    unpacked = []
    for archive in sorted(dist.glob("*.zip")):
        standard = next((s for s in STANDARDS if archive.stem.endswith(s)), None)
        if standard is None:
            continue
        target = dist / standard
        if target.exists():
            for path in sorted(target.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)
        unpacked.append(target)
    return unpacked
