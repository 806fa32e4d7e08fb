"""The journey through a real Moodle 5.0.6, as the people who use Steun, in Debian's Chromium.

Run by ``scripts/e2e_moodle/run.sh`` (``make e2e-moodle``) once the services are up; it reads
its addresses from the environment that ``env.sh`` sets. Every step writes screenshots and a
line to ``var/e2e-moodle/report/summary.md`` and ``summary.json``: PASS, FAIL (with what was
seen) or SKIPPED (a step it depends on failed). Exit code 1 when any step did not pass.

This is an observation harness: it does what a person does in Moodle's own pages and records
what happens; it never works around Steun (no direct URLs into Steun, no cookie tricks).
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import subprocess
import sys
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from playwright.sync_api import Frame, Page, sync_playwright

ENV = os.environ
VAR = Path(ENV["E2E_VAR"])
REPORT = VAR / "report"
MOODLE = ENV["MOODLE_URL"]
STEUN = ENV["STEUN_URL"]
MOODLE_HOST = ENV["MOODLE_HOST"]
PASSWORD = "E2e-User-1!"
ADMIN_PASSWORD = ENV["MOODLE_ADMIN_PASS"]
STEUN_BIN = str(Path(ENV["VENV_BIN"]) / "steun")
PG = {
    "host": "127.0.0.1",
    "port": int(ENV["MOODLE_PG_PORT"]),
    "user": "postgres",
    "dbname": "moodle",
}
LAUNCH_TIMEOUT = float(ENV.get("E2E_LAUNCH_TIMEOUT", "150"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# -- the report -----------------------------------------------------------------------------


class StepFailed(Exception):
    pass


@dataclass
class Step:
    key: str
    title: str
    status: str = "SKIPPED"
    seconds: float = 0.0
    evidence: list[str] = field(default_factory=list)
    screenshots: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


class Report:
    def __init__(self) -> None:
        REPORT.mkdir(parents=True, exist_ok=True)
        for old in REPORT.glob("*.png"):
            old.unlink()
        self.steps: list[Step] = []
        self.started = time.time()
        self.current: Step | None = None
        self.shot_no = 0

    def note(self, text: str) -> None:
        print(f"    {text}", flush=True)
        if self.current:
            self.current.evidence.append(text)

    def shot(self, page: Page, what: str) -> None:
        if not self.current:
            return
        self.shot_no += 1
        name = (
            f"{self.shot_no:02d}-{self.current.key}-{re.sub(r'[^a-z0-9]+', '-', what.lower())}.png"
        )
        try:
            page.screenshot(path=str(REPORT / name), full_page=True, timeout=15000)
            self.current.screenshots.append(name)
        except Exception as exc:  # a screenshot must never end the journey
            self.note(f"(screenshot {what} failed: {type(exc).__name__})")

    def run(
        self, key: str, title: str, fn: Callable[[Step], None], needs: tuple[str, ...] = ()
    ) -> Step:
        step = Step(key, title)
        self.steps.append(step)
        print(f"== {key}: {title}", flush=True)
        blocked = [k for k in needs if self.status(k) != "PASS"]
        if blocked:
            step.status = "SKIPPED"
            step.evidence.append("needs " + ", ".join(f"{k} ({self.status(k)})" for k in blocked))
            print(f"   SKIPPED ({step.evidence[-1]})", flush=True)
            self.write()
            return step
        self.current = step
        start = time.time()
        try:
            fn(step)
            step.status = "PASS"
        except StepFailed as exc:
            step.status = "FAIL"
            step.evidence.append(f"FAIL: {exc}")
        except Exception as exc:
            step.status = "FAIL"
            step.evidence.append(
                f"FAIL (error in the driver or a page): {type(exc).__name__}: {exc}"
            )
            step.evidence.append(traceback.format_exc(limit=3).replace("\n", " | ")[-900:])
        step.seconds = round(time.time() - start, 1)
        self.current = None
        print(f"   {step.status} in {step.seconds} s", flush=True)
        self.write()
        return step

    def status(self, key: str) -> str:
        for step in self.steps:
            if step.key == key:
                return step.status
        return "MISSING"

    def write(self) -> None:
        passed = sum(s.status == "PASS" for s in self.steps)
        lines = [
            "# Steun in a real Moodle: end-to-end check",
            "",
            f"Moodle {MOODLE} · Steun {STEUN} · {time.strftime('%Y-%m-%d %H:%M:%S')}",
            "",
        ]
        for s in self.steps:
            lines.append(f"- **{s.status}** `{s.key}` {s.title} ({s.seconds} s)")
            for e in s.evidence:
                lines.append(f"  - {e}")
            if s.screenshots:
                lines.append("  - screenshots: " + ", ".join(f"[{n}]({n})" for n in s.screenshots))
        lines += ["", f"{passed} of {len(self.steps)} steps passed."]
        (REPORT / "summary.md").write_text("\n".join(lines) + "\n")
        (REPORT / "summary.json").write_text(
            json.dumps(
                {
                    "moodle": MOODLE,
                    "steun": STEUN,
                    "steps": [s.__dict__ for s in self.steps],
                    "passed": passed,
                    "total": len(self.steps),
                    "seconds": round(time.time() - self.started, 1),
                },
                indent=1,
                default=str,
            )
        )


R = Report()


def check(condition: Any, message: str) -> None:
    if not condition:
        raise StepFailed(message)


# -- helpers ---------------------------------------------------------------------------------


def sql(query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(**PG, autocommit=True) as conn:
        return list(conn.execute(query, params).fetchall())


def steun(*args: str, check_rc: bool = True) -> str:
    done = subprocess.run([STEUN_BIN, *args], capture_output=True, text=True, timeout=300)
    out = (done.stdout + done.stderr).strip()
    if check_rc and done.returncode != 0:
        raise StepFailed(f"`steun {' '.join(args)}` exited {done.returncode}: {out[-500:]}")
    return out


def jwt_claims(token: str) -> dict[str, Any]:
    try:
        body = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except Exception:
        return {}


def short_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """The claims that matter for the findings (the id_token itself is not kept)."""
    lti = "https://purl.imsglobal.org/spec/lti/claim/"
    keep = {}
    for key, value in claims.items():
        if key in ("iss", "aud", "sub", "nonce", "iat", "exp", "azp"):
            keep[key] = value if key != "nonce" else "(nonce)"
        elif key.startswith(lti) or "lti-ags" in key or "lti-dl" in key or "lti-nrps" in key:
            keep[key.replace("https://purl.imsglobal.org/spec/", "")] = value
    return keep


def where(request: Any) -> str:
    """In which browsing context a request was made: Moodle's iframe or a window of its own."""
    try:
        frame = request.frame
        kind = "iframe" if frame.parent_frame is not None else "top-level"
        pages = frame.page.context.pages
        window = "the person's tab" if frame.page == pages[0] else "a new window"
        return f"{kind} in {window}"
    except Exception:
        return "?"


@dataclass
class Traffic:
    """What the browser sent to and got from Steun (the LTI messages, cookies, relay calls)."""

    launches: list[dict[str, Any]] = field(default_factory=list)
    logins: list[dict[str, Any]] = field(default_factory=list)
    set_cookies: list[str] = field(default_factory=list)
    relay: list[str] = field(default_factory=list)
    dl_responses: list[dict[str, Any]] = field(default_factory=list)
    popups: list[str] = field(default_factory=list)
    popup_pages: list[Any] = field(default_factory=list)
    context: Any = None
    timeline: list[tuple[float, str]] = field(default_factory=list)

    def attach(self, context: Any) -> None:
        context.on("request", self.on_request)
        context.on("response", self.on_response)
        context.on("page", self.on_page)
        self.context = context

    def on_page(self, page: Any) -> None:
        if len(self.context.pages) > 1:  # the first page is the person's own tab
            self.popups.append(page.url or "about:blank")
            self.popup_pages.append(page)

    def popup_report(self) -> list[str]:
        found = []
        for page in self.popup_pages:
            try:
                page.wait_for_load_state("domcontentloaded", timeout=10000)
                text = page.evaluate("document.body ? document.body.innerText : ''")
            except Exception as exc:
                text = f"({type(exc).__name__})"
            opener = "?"
            try:
                opener = page.evaluate("window.opener ? 'has opener' : 'no opener'")
            except Exception:
                pass
            found.append(f"{page.url.split('?')[0]} [{opener}]: {text.strip()[:200]!r}")
        return found

    def on_request(self, request: Any) -> None:
        url = request.url
        if not url.startswith(STEUN) and "contentitem_return.php" not in url:
            return
        self.timeline.append((time.time(), f"{request.method} {url.split('?')[0]}"))
        try:
            post = request.post_data or ""
        except Exception:
            post = ""
        if url.startswith(STEUN + "/lti/launch") and request.method == "POST":
            form = dict(re.findall(r"(?:^|&)([^=&]+)=([^&]*)", post))
            from urllib.parse import unquote_plus

            token = unquote_plus(form.get("id_token", ""))
            self.launches.append(
                {
                    "at": time.time(),
                    "where": where(request),
                    "claims": short_claims(jwt_claims(token)),
                }
            )
        elif url.startswith(STEUN + "/lti/login"):
            from urllib.parse import parse_qs, urlsplit

            params = parse_qs(post or urlsplit(url).query)
            self.logins.append(
                {
                    "at": time.time(),
                    "method": request.method,
                    "where": where(request),
                    "params": sorted(params),
                    "lti_storage_target": params.get("lti_storage_target", [None])[0],
                    "target_link_uri": params.get("target_link_uri", [None])[0],
                }
            )
        elif "contentitem_return.php" in url:
            from urllib.parse import parse_qs

            token = parse_qs(post).get("JWT", [""])[0]
            self.dl_responses.append(short_claims(jwt_claims(token)))
        elif "/relay/course" in url:
            self.relay.append(f"{request.method} {url.split('?')[0]}")

    def on_response(self, response: Any) -> None:
        if not response.url.startswith(STEUN):
            return
        self.timeline.append((time.time(), f"{response.status} {response.url.split('?')[0]}"))
        if "/relay/course" in response.url:
            self.relay.append(f"-> {response.status}")
        try:
            for header in response.headers_array():
                if header["name"].lower() == "set-cookie":
                    self.set_cookies.append(
                        re.sub(r"=([^;]{6})[^;]*", r"=\1…", header["value"], count=1)
                    )
        except Exception:
            pass


def dismiss_tour(page: Page) -> None:
    """Moodle shows a user tour to a new user; a person skips it (its backdrop takes clicks)."""
    time.sleep(1.5)
    for _ in range(3):
        end = page.locator("[data-flexitour=container] [data-role=end]")
        if end.count() and end.first.is_visible():
            R.note(f"Moodle showed a user tour; skipped it ({end.first.inner_text().strip()!r})")
            end.first.click()
            time.sleep(0.5)
        else:
            break


def login(page: Page, username: str, password: str) -> None:
    for attempt in (1, 2, 3):
        page.goto(f"{MOODLE}/login/index.php")
        page.wait_for_load_state("networkidle")
        page.fill("#username", username)
        page.fill("#password", password)
        with page.expect_navigation():
            page.click("#loginbtn")
        page.wait_for_load_state("domcontentloaded")
        if "login/index.php" not in page.url:
            return
        message = " / ".join(page.locator("#loginerrormessage, .alert").all_inner_texts())[:200]
        R.note(
            f"Moodle login as {username}, attempt {attempt}: back on {page.url.replace(MOODLE, '')}: {message!r}"
        )
        R.shot(page, f"login {username} {attempt}")
    raise StepFailed(f"Moodle login as {username} failed ({page.url})")


def frame_of(page: Page, selector: str, timeout: float = 30) -> Frame:
    end = time.time() + timeout
    while time.time() < end:
        handle = page.query_selector(selector)
        if handle:
            frame = handle.content_frame()
            if frame:
                return frame
        time.sleep(0.2)
    raise StepFailed(f"no iframe {selector} on {page.url}")


def frame_text(frame: Frame) -> str:
    try:
        return frame.evaluate("document.body ? document.body.innerText : ''")
    except Exception:
        return ""


def steun_outcome(frame: Frame, deadline: float) -> tuple[str, str]:
    """Wait until Steun's page in the frame settled; return (what, url)."""
    markers = [
        ("learner-turned-away", "Dit onderdeel is voor leerkrachten"),
        ("consent", "Meedoen"),
        ("picker", "Steun toevoegen aan de cursus"),
        ("dashboard", "vragenlijsten"),
        ("children", "Leerling toevoegen"),
        ("error", "Er ging iets mis"),
        ("error", "Geen toegang"),
    ]
    while time.time() < deadline:
        url = frame.url
        text = frame_text(frame)
        if url.startswith(STEUN + "/lti/login"):
            try:
                if frame.locator("#steun-newwindow").is_visible():
                    return "new-window-offered", url
            except Exception:
                pass
        elif url.startswith(STEUN) and not url.startswith(STEUN + "/lti/launch"):
            for what, marker in markers:
                if marker in text:
                    return what, url
            if text.strip():
                return "other: " + text.strip()[:160].replace("\n", " "), url
        elif url.startswith(MOODLE) and "contentitem_return.php" in url and text.strip():
            return "moodle return page: " + text.strip()[:300].replace("\n", " "), url
        elif url.startswith(MOODLE) and re.search(r"(?i)error|exception|invalid", text):
            return "moodle page: " + text.strip()[:300].replace("\n", " "), url
        time.sleep(0.25)
    return "timeout", frame.url


def steun_log_slow(since: float, threshold_ms: int = 5000) -> list[str]:
    """Slow requests in Steun's access log (gunicorn's %(M)sms) since a time."""
    path = VAR / "log" / "steun.log"
    slow = []
    if not path.exists():
        return slow
    for line in path.read_text(errors="replace").splitlines():
        m = re.search(r'"(\w+) (\S+) [^"]*" (\d+) \S+ (\d+)ms', line)
        if m and int(m.group(4)) >= threshold_ms:
            slow.append(f"{m.group(1)} {m.group(2)} {m.group(3)} {m.group(4)} ms")
    return slow


def steun_log_lines(pattern: str) -> list[str]:
    path = VAR / "log" / "steun.log"
    if not path.exists():
        return []
    return [
        line[-300:]
        for line in path.read_text(errors="replace").splitlines()
        if re.search(pattern, line)
    ]


# -- the journey -------------------------------------------------------------------------------

STATE: dict[str, Any] = {}


def step_package(step: Step, browser: Any) -> None:
    """a. The operator downloads the course package for this Moodle from Steun's /lti/admin
    (the built package with Moodle's package key, decision 0012)."""
    from steun_lti.plumbing.secrets import load_or_create_secret
    from steun_lti.plumbing.settings import load_settings

    password = load_or_create_secret(load_settings().data_dir, "admin_password", nbytes=18)
    context = browser.new_context(
        locale="nl-NL",
        viewport={"width": 1280, "height": 900},
        http_credentials={"username": "admin", "password": password},
        accept_downloads=True,
    )
    try:
        page = context.new_page()
        page.goto(f"{STEUN}/lti/admin/")
        R.shot(page, "steun admin: course package per LMS")
        row = page.locator("tr", has_text=MOODLE.split("://")[1]).filter(has_text="SCORM 1.2")
        check(row.count() > 0, "no course package link for Moodle on /lti/admin")
        with page.expect_download() as info:
            row.first.get_by_text("SCORM 1.2 (Moodle)").click()
        keyed = VAR / "dist" / "keyed" / info.value.suggested_filename
        keyed.parent.mkdir(parents=True, exist_ok=True)
        info.value.save_as(keyed)
    finally:
        context.close()
    with zipfile.ZipFile(keyed) as zf:
        relay = json.loads(zf.read("steun-relay.js").decode().split("= ", 1)[1].rstrip(";\n"))
    check(relay.get("url") == f"{STEUN}/relay/course", f"relay URL in the package: {relay}")
    STATE["package"] = keyed
    R.note(
        f"operator downloaded {keyed.name} from /lti/admin: steun-relay.js has url {relay['url']}, "
        f"key id {relay['kid']} (the key itself not shown)"
    )


def step_fixtures(step: Step) -> None:
    """b. Set-up data by Moodle's API: the course, the people, the SCORM activity."""
    dist = VAR / "dist" / "keyed"
    zips = sorted(dist.glob("*-scorm12-*.zip"))
    check(zips, f"no keyed SCORM 1.2 package in {dist} (step a-package)")
    out = subprocess.run(
        ["php", str(Path(ENV["E2E_HERE"]) / "moodle_fixtures.php"), str(zips[-1]), PASSWORD],
        capture_output=True,
        text=True,
        env={**ENV, "MOODLE_DIR": ENV["MOODLE_DIR"]},
        timeout=300,
    )
    check(out.returncode == 0, f"moodle_fixtures.php failed: {(out.stdout + out.stderr)[-600:]}")
    ids = json.loads(out.stdout.strip().splitlines()[-1])
    STATE.update(ids)
    R.note(f"package {zips[-1].name}: the plain build with Moodle's package key from /lti/admin")
    R.note(
        f"course id {ids['course']} (STEUN-PD); users {ids['users']}: editingteacher as editing "
        "teacher, participant1/2 enrolled as student; SCORM activity cmid "
        f"{ids['scorm_cmid']} created with Moodle's PHP API (the generator of mod_scorm, default settings)"
    )


def step_register(step: Step, browser: Any) -> None:
    """a. The operator invites, the Moodle admin registers Steun in Moodle's UI."""
    out = steun(
        "platform", "invite", "--for-host", MOODLE_HOST, "--expires", "1h", "--note", "e2e Moodle"
    )
    link = next(line for line in out.splitlines() if line.startswith("https://"))
    R.note(
        f"operator: `steun platform invite --for-host {MOODLE_HOST} --expires 1h` → {link.split('/register/')[0]}/register/…"
    )
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    traffic = Traffic()
    traffic.attach(context)
    page = context.new_page()
    STATE["admin_context"] = context
    login(page, "admin", ADMIN_PASSWORD)
    page.goto(f"{MOODLE}/mod/lti/toolconfigure.php")
    page.fill("#tool-url", link)
    R.shot(page, "manage tools with tool url")
    page.click("#tool-create-button")
    # Moodle opens the tool's registration page in an iframe; the tool posts "close" when done.
    deadline = time.time() + 90
    card = page.locator(".tool-card", has_text="Steun")
    while time.time() < deadline and card.count() == 0:
        time.sleep(0.5)
    R.shot(page, "after registration")
    check(card.count() > 0, "no Steun tool card appeared in Manage tools after Add LTI Advantage")
    types = sql(
        "SELECT id, name, state, clientid, coursevisible, baseurl FROM mdl_lti_types ORDER BY id"
    )
    R.note(f"Moodle mdl_lti_types: {types}")
    STATE["typeid"] = types[-1][0]
    R.note("Steun: " + steun("platform", "list").replace("\n", " | "))


def step_activate(step: Step) -> None:
    """a. The Moodle admin activates the pending tool; the operator activates the deployment;
    the admin shows the tool in the course's activity chooser."""
    context = STATE["admin_context"]
    page = context.pages[0]
    page.goto(f"{MOODLE}/mod/lti/toolconfigure.php")
    card = page.locator(".tool-card", has_text="Steun").first
    card.wait_for(timeout=30000)
    activate = card.locator("a.activate")
    if activate.count():
        activate.click()
        deadline = time.time() + 30
        while (
            time.time() < deadline
            and sql("SELECT state FROM mdl_lti_types WHERE id=%s", STATE["typeid"])[0][0] != 1
        ):
            time.sleep(0.5)
    R.shot(page, "tool activated")
    state = sql("SELECT state FROM mdl_lti_types WHERE id=%s", STATE["typeid"])[0][0]
    check(state == 1, f"Moodle tool type state is {state}, not 1 (configured)")
    listing = steun("platform", "list")
    pending = re.findall(r"deployment #(\d+) .*PENDING", listing)
    for row in pending:
        R.note("operator: " + steun("platform", "activate", row))
    R.note("Steun after: " + steun("platform", "list").replace("\n", " | "))
    cfg = dict(sql("SELECT name, value FROM mdl_lti_types_config WHERE typeid=%s", STATE["typeid"]))
    interesting = {
        k: v
        for k, v in cfg.items()
        if k
        in (
            "acceptgrades",
            "ltiservice_gradesynchronization",
            "ltiservice_memberships",
            "launchcontainer",
            "contentitem",
            "sendname",
            "sendemailaddr",
            "customparameters",
            "toolurl_ContentItemSelectionRequest",
            "initiatelogin",
            "redirectionuris",
        )
        or k.startswith("ltiservice")
    }
    R.note(f"tool config as registered: {interesting}")
    # The course's External tools page: "Show in activity chooser".
    page.goto(f"{MOODLE}/mod/lti/coursetools.php?id={STATE['course']}")

    def shown_now() -> bool:
        return bool(
            sql(
                "SELECT 1 FROM mdl_lti_coursevisible WHERE typeid=%s AND courseid=%s AND coursevisible=2",
                STATE["typeid"],
                STATE["course"],
            )
        )

    for _attempt in range(3):
        page.wait_for_load_state("networkidle")
        toggle = page.locator(f"#showinactivitychooser-toggle-{STATE['typeid']}")
        toggle.wait_for(timeout=30000)
        if not toggle.is_checked():
            toggle.click()
        deadline = time.time() + 10
        while time.time() < deadline and not shown_now():
            time.sleep(0.5)
        if shown_now():
            break
        page.reload()
    R.shot(page, "course tools shown in chooser")
    shown = sql(
        "SELECT coursevisible FROM mdl_lti_coursevisible WHERE typeid=%s AND courseid=%s",
        STATE["typeid"],
        STATE["course"],
    )
    check(
        shown and shown[0][0] == 2, f"not shown in the activity chooser (lti_coursevisible {shown})"
    )
    R.note("course tools page: Show in activity chooser = on (lti_coursevisible 2)")


def step_deep_link(step: Step, browser: Any) -> None:
    """c. The editing teacher adds Steun with Select content (Deep Linking) in Moodle's dialog."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 1000})
    traffic = Traffic()
    traffic.attach(context)
    page = context.new_page()
    login(page, "editingteacher", PASSWORD)
    STATE["teacher_context"], STATE["teacher_traffic"] = context, traffic
    course = STATE["course"]
    page.goto(f"{MOODLE}/course/view.php?id={course}")
    # Edit mode on (the switch in the navigation bar), then the activity chooser of section 1.
    reached_form = False
    try:
        switch = page.locator("input[name=setmode]")
        if switch.count() and not switch.is_checked():
            with page.expect_navigation():
                switch.click()
        page.wait_for_load_state("networkidle")
        dismiss_tour(page)
        # The section's "Add content" menu → "Activity or resource" opens the activity chooser.
        page.locator("#section-1 button[data-action=open-addingcontent]").last.click()
        page.locator(
            "#section-1 .dropdown-menu.show button[data-action=open-chooser]"
        ).first.click()
        chooser = page.locator(".modal-dialog", has_text="Steun")
        chooser.wait_for(timeout=20000)
        R.shot(page, "activity chooser")
        option = chooser.locator("[data-region=chooser-option-container]", has_text="Steun").first
        option.locator("a").first.click()
        page.wait_for_url("**/course/modedit.php**", timeout=30000)
        reached_form = True
        R.note("activity chooser → Steun → activity form (course/modedit.php)")
    except Exception as exc:
        R.shot(page, "activity chooser problem")
        R.note(
            f"activity chooser not usable by the driver ({type(exc).__name__}: {str(exc)[:300]}); opening the same form by its URL"
        )
    if not reached_form:
        page.goto(
            f"{MOODLE}/course/modedit.php?add=lti&typeid={STATE['typeid']}&type=&course={course}&section=1&return=0&sr=0"
        )
    page.locator("#id_selectcontent").wait_for(timeout=30000)
    R.shot(page, "activity form")
    t0 = time.time()
    page.click("#id_selectcontent")
    frame = frame_of(page, "#contentitem-page-iframe")
    what, url = steun_outcome(frame, time.time() + LAUNCH_TIMEOUT)
    STATE["dl_launch_seconds"] = round(time.time() - t0, 1)
    R.shot(page, "select content dialog")
    R.note(
        f"Select content: Steun showed '{what}' in Moodle's dialog iframe after {STATE['dl_launch_seconds']} s ({url.split('?')[0]})"
    )
    for login_ in traffic.logins:
        R.note(
            f"OIDC login initiation ({login_['method']}, {login_['where']}): params {login_['params']}; lti_storage_target={login_['lti_storage_target']!r}"
        )
    for launch in traffic.launches:
        R.note(
            f"deep-linking request ({launch['where']}) claims: "
            + json.dumps(launch["claims"], sort_keys=True)[:2500]
        )
    if traffic.popups:
        R.note(f"new windows opened: {traffic.popups}; now: {traffic.popup_report()}")
    check(what == "picker", f"the Deep Linking picker did not appear in the dialog: {what}")
    boxes = frame.locator("input[name=item]")
    offers = []
    for i in range(boxes.count()):
        box = boxes.nth(i)
        offers.append(box.get_attribute("value"))
        if box.get_attribute("type") == "checkbox" and not box.is_checked():
            box.check()
    R.note(f"picker offers {offers}; all ticked")
    frame.click("#steun-place")
    # Moodle's return page calls window.parent.processContentItemReturnData and closes the dialog.
    deadline = time.time() + 60
    while time.time() < deadline:
        if not page.locator("#contentitem-page-iframe").is_visible():
            break
        text = frame_text(frame)
        if "is not a function" in text or "error" in text.lower():
            break
        time.sleep(0.5)
    R.shot(page, "after place")
    for resp in traffic.dl_responses:
        R.note("deep-linking response: " + json.dumps(resp, sort_keys=True)[:1500])
    dialog_open = page.locator("#contentitem-page-iframe").is_visible()
    if dialog_open:
        text = frame_text(frame)
        raise StepFailed(
            f"Moodle's dialog did not close after Place; it shows: {text[:300]!r} ({frame.url.split('?')[0]})"
        )
    R.shot(page, "form with selected items")
    page.locator("#id_submitbutton2").click()
    page.wait_for_url(re.compile(r"/course/(view|section)\.php"), timeout=60000)
    page.wait_for_load_state("networkidle")
    R.shot(page, "course after save")
    ltis = sql(
        "SELECT l.id, l.name, cm.id FROM mdl_lti l JOIN mdl_course_modules cm ON cm.instance=l.id "
        "JOIN mdl_modules m ON m.id=cm.module AND m.name='lti' WHERE l.course=%s ORDER BY l.id",
        course,
    )
    items = sql(
        "SELECT gi.id, gi.itemname, gi.iteminstance, gi.grademax FROM mdl_grade_items gi "
        "WHERE gi.courseid=%s AND gi.itemmodule='lti'",
        course,
    )
    R.note(f"Moodle activities: {ltis}")
    R.note(
        "mdl_lti (id, instructorchoiceacceptgrades, grade, instructorcustomparameters, launchcontainer): "
        + str(
            sql(
                "SELECT id, instructorchoiceacceptgrades, grade, instructorcustomparameters, launchcontainer FROM mdl_lti WHERE course=%s ORDER BY id",
                course,
            )
        )
    )
    R.note(f"grade items of those activities: {items}")
    STATE["ltis"] = ltis
    check(len(ltis) >= 2, f"expected the dashboard and wave items as activities, got {len(ltis)}")
    check(items, "no grade item was created for the placed waves")


def pick_wave(ltis: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    for row in ltis:
        if re.search(r"meting|wave|t1", str(row[1]), re.I):
            return row
    return ltis[-1]


def click_through_scorm(sco: Frame) -> None:
    """Every page, every exercise answered correctly, the final check passed (as in the tests'
    scorm_package/browser_lms.click_through, by the runtime's own answer keys)."""
    sco.wait_for_function("window.SteunRuntime !== undefined", timeout=30000)
    start = sco.get_by_role("button", name=re.compile("Begin met de cursus|Ga verder"))
    if start.count():
        start.first.click()
    n_pages = len(sco.evaluate("SteunRuntime.config.pages"))
    sco.evaluate("SteunRuntime.show(1)")
    while True:
        current = sco.evaluate("SteunRuntime.current()")
        kind = sco.evaluate("i => SteunRuntime.config.pages[i].kind", current)
        section = sco.locator("section.page:not([hidden])")
        if kind == "final":
            form = section.locator("form[data-final]")
            for fs in form.locator("fieldset[data-question]").all():
                index = int(fs.get_attribute("data-question") or "0")
                ex = sco.evaluate("i => SteunRuntime.config.exercises[i]", index)
                wanted = [j for j, o in enumerate(ex["options"]) if o["correct"]]
                for j in wanted[: 1 if ex["type"] == "choice" else None]:
                    fs.locator(f"#ex{index}-{j}").check()
            form.get_by_role("button", name="Lever de toets in").click()
            form.locator("[data-final-result]").filter(has_text="score").wait_for()
        else:
            forms = section.locator("form[data-exercise]")
            if forms.count():
                form = forms.first
                index = int(form.get_attribute("data-exercise") or "0")
                ex = sco.evaluate("i => SteunRuntime.config.exercises[i]", index)
                if ex["type"] in ("choice", "multiple"):
                    wanted = [j for j, o in enumerate(ex["options"]) if o["correct"]]
                    for j in wanted[: 1 if ex["type"] == "choice" else None]:
                        form.locator(f"#ex{index}-{j}").check()
                elif ex["type"] == "sorting":
                    for j, item in enumerate(ex["items"]):
                        form.locator(f"#ex{index}-{j}").select_option(str(item["category"]))
                else:
                    form.locator("textarea").fill(
                        ("Ik let op rust en voorspelbaarheid. " * 20)[: ex["maxLength"]]
                    )
                form.locator("button[type=submit]").click()
                form.locator("[data-feedback-area] p").first.wait_for()
        if current == n_pages - 1:
            break
        sco.get_by_role("button", name="Volgende").click()
        sco.wait_for_function(f"SteunRuntime.current() === {current + 1}")


def step_scorm(step: Step, browser: Any) -> None:
    """d. The participant plays the course in Moodle's SCORM player (Enter, normal mode)."""
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 1000})
    traffic = Traffic()
    traffic.attach(context)
    page = context.new_page()
    login(page, "participant1", PASSWORD)
    STATE["participant_context"], STATE["participant_traffic"] = context, traffic
    page.goto(f"{MOODLE}/course/view.php?id={STATE['course']}")
    R.shot(page, "participant course page")
    page.get_by_role("link", name=re.compile("Cursus: Steun in het onderwijs")).first.click()
    page.wait_for_load_state("domcontentloaded")
    R.shot(page, "scorm view")
    enter = page.get_by_role("button", name=re.compile(r"^(Enter|Openen|Starten|Doorgaan)$"))
    if enter.count() == 0:
        enter = page.locator("input[type=submit][value=Enter], button:has-text('Enter')")
    enter.first.click()
    page.wait_for_url("**/mod/scorm/player.php**", timeout=30000)
    check("mode=browse" not in page.url, f"the player opened in preview mode: {page.url}")
    sco = frame_of(page, "#scorm_object", timeout=60)
    sco.wait_for_load_state("domcontentloaded")
    R.shot(page, "player start")
    click_through_scorm(sco)
    R.shot(page, "player end")
    learner_id = sco.evaluate(
        "() => { try { const api = (window.parent.API || window.parent.parent.API);"
        " return api ? api.LMSGetValue('cmi.core.student_id') : null } catch (e) { return String(e) } }"
    )
    R.note(f"cmi.core.student_id in Moodle's player: {learner_id!r}")
    # Leave the activity as a person does (Moodle commits on unload).
    page.goto(f"{MOODLE}/course/view.php?id={STATE['course']}")
    time.sleep(2)
    uid = STATE["users"]["participant1"]
    values = sql(
        "SELECT e.element, v.value FROM mdl_scorm_scoes_value v JOIN mdl_scorm_element e ON e.id=v.elementid "
        "JOIN mdl_scorm_attempt a ON a.id=v.attemptid WHERE a.userid=%s AND e.element IN "
        "('cmi.core.lesson_status','cmi.core.score.raw','cmi.core.student_id','cmi.core.total_time')",
        uid,
    )
    R.note(f"Moodle scorm tracking for participant1: {dict(values)}")
    R.note(
        f"relay traffic from the course: {len([r for r in traffic.relay if not r.startswith('->')])} requests, "
        f"statuses {sorted(set(r for r in traffic.relay if r.startswith('->')))}"
    )
    status = dict(values).get("cmi.core.lesson_status")
    check(status in ("passed", "completed"), f"lesson_status in Moodle is {status!r}")
    # Issue 15: a bounded number of interactions (one per exercise per session, overwritten by
    # index), exit=suspend stored, no reflection text in the LMS.
    stored = sql(
        "SELECT e.element, v.value FROM mdl_scorm_scoes_value v JOIN mdl_scorm_element e ON e.id=v.elementid "
        "JOIN mdl_scorm_attempt a ON a.id=v.attemptid WHERE a.userid=%s AND "
        "(e.element LIKE 'cmi.interactions%%' OR e.element = 'cmi.core.exit')",
        uid,
    )
    ids = {v for e, v in stored if e.endswith(".id")}
    # Moodle keeps SCORM 1.2 interactions as cmi.interactions_N.field (underscore), 2004 as dots
    indexes = {
        re.split(r"[._]", e, maxsplit=3)[2] for e, _ in stored if e.startswith("cmi.interactions")
    }
    exit_value = dict(stored).get("cmi.core.exit")
    fill_in = [v for e, v in stored if e.endswith(".student_response") and "tekens" in v]
    R.note(
        f"Moodle stored {len(indexes)} interactions ({len(ids)} distinct ids), cmi.core.exit "
        f"{exit_value!r}; reflections as {fill_in[:2]}"
    )
    check(0 < len(indexes) <= 30, f"{len(indexes)} interactions stored: none, or over the budget")
    check(exit_value == "suspend", f"cmi.core.exit is {exit_value!r}, not suspend")


def step_wave_launch(step: Step, browser: Any) -> None:
    """d. The participant opens the wave activity inside Moodle's iframe."""
    context = STATE.get("participant_context")
    if context is None:
        context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 1000})
        STATE["participant_traffic"] = Traffic()
        STATE["participant_traffic"].attach(context)
        page = context.new_page()
        login(page, "participant1", PASSWORD)
        STATE["participant_context"] = context
    traffic: Traffic = STATE["participant_traffic"]
    page = context.pages[0]
    wave = pick_wave(STATE["ltis"])
    page.goto(f"{MOODLE}/course/view.php?id={STATE['course']}")
    since = time.time()
    t0 = time.time()
    page.get_by_role("link", name=re.compile(re.escape(str(wave[1])))).first.click()
    page.wait_for_url("**/mod/lti/view.php**", timeout=30000)
    frame = frame_of(page, "#contentframe")
    what, url = steun_outcome(frame, time.time() + LAUNCH_TIMEOUT)
    seconds = round(time.time() - t0, 1)
    STATE["wave_launch_seconds"] = seconds
    R.shot(page, "wave in iframe")
    R.note(
        f"wave activity '{wave[1]}' (cmid {wave[2]}): Steun showed '{what}' inside Moodle's iframe after {seconds} s ({url.split('?')[0]})"
    )
    for login_ in traffic.logins[-2:]:
        R.note(
            f"OIDC login initiation ({login_['method']}, {login_['where']}): params {login_['params']}; lti_storage_target={login_['lti_storage_target']!r}; target_link_uri={login_['target_link_uri']}"
        )
    if traffic.launches:
        claims = traffic.launches[-1]["claims"]
        STATE["participant_claims"] = claims
        R.note(
            f"launch ({traffic.launches[-1]['where']}) claims: "
            + json.dumps(claims, sort_keys=True)[:2500]
        )
    if traffic.popups:
        R.note(f"new windows opened: {traffic.popups}; now: {traffic.popup_report()}")
    R.note("Set-Cookie from Steun: " + " || ".join(dict.fromkeys(traffic.set_cookies)))
    slow = steun_log_slow(since)
    if slow:
        R.note(f"slow requests in Steun's access log: {slow[-5:]}")
    STATE["wave_frame_what"] = what
    check(not traffic.popups, "the launch opened a new window")
    check(
        what in ("consent", "dashboard", "children"),
        f"the participant did not reach the study: {what}",
    )


def nav_click(frame: Frame, locator: Any) -> None:
    """Click something that loads a new page in the frame, and wait for that page."""
    with frame.expect_navigation(timeout=LAUNCH_TIMEOUT * 1000):
        locator.click()
    frame.wait_for_load_state("domcontentloaded")


def answer_questionnaires(frame: Frame) -> int:
    """Fill in every questionnaire the wave page offers (the middle option everywhere)."""
    done = 0
    for _ in range(12):
        start = frame.get_by_role("link", name=re.compile(r"^(Beginnen|Verder) –"))
        if start.count() == 0:
            break
        nav_click(frame, start.first)
        for _page in range(30):
            groups = frame.evaluate(
                "() => [...new Set([...document.querySelectorAll('input[type=radio]')].map(i => i.name))]"
            )
            for name in groups:
                if frame.locator(f"input[type=radio][name='{name}']:checked").count():
                    continue
                options = frame.locator(f"input[type=radio][name='{name}']")
                options.nth(options.count() // 2).check()
                time.sleep(0.1)
            review = frame.get_by_role("button", name="Antwoorden nakijken")
            if review.count():
                nav_click(frame, review)
                nav_click(frame, frame.get_by_role("button", name="Inleveren"))
                done += 1
                break
            nxt = frame.get_by_role("button", name="Volgende")
            check(nxt.count(), f"no Volgende or review button on {frame.url}")
            nav_click(frame, nxt)
    return done


def step_study(step: Step, who: str = "participant") -> None:
    """d. Consent, children, questionnaires inside the iframe."""
    page = STATE[f"{who}_context"].pages[0]
    frame = frame_of(page, "#contentframe")
    if frame.get_by_role("button", name="Meedoen").count():
        frame.get_by_label("Ik heb de informatiebrief gelezen").check()
        nav_click(frame, frame.get_by_role("button", name="Meedoen"))
        R.shot(page, "after consent")
        R.note(f"consent given; now on {frame.url.split('?')[0]}")
    add_link = frame.get_by_role("link", name="Leerling toevoegen")
    if add_link.count():
        nav_click(frame, add_link.first)
    if frame.get_by_role("button", name="Leerling toevoegen").count():
        frame.get_by_label("Armoede of geldzorgen thuis").check()
        nav_click(frame, frame.get_by_role("button", name="Leerling toevoegen"))
        frame.get_by_role("heading", name="Leerling A").wait_for()
        frame.get_by_label("Verlies of ingrijpende gebeurtenis").check()
        nav_click(frame, frame.get_by_role("button", name="Leerling toevoegen"))
        frame.get_by_role("heading", name="Leerling B").wait_for()
        R.shot(page, "children")
        R.note("two children added (Leerling A, Leerling B)")
        nav_click(frame, frame.get_by_role("link", name="Naar de vragenlijsten"))
    n = answer_questionnaires(frame)
    R.shot(page, "wave done")
    R.note(f"questionnaires handed in: {n}; page says: {frame_text(frame)[:300]!r}")
    check(n > 0, "no questionnaire could be filled in")


def step_grades(step: Step, username: str = "participant1") -> None:
    """e. The participant's gradebook row, from Moodle's database."""
    uid = STATE["users"][username]
    time.sleep(3)  # the score is posted when the wave is handed in
    rows = sql(
        "SELECT gi.itemname, gi.itemmodule, gi.grademax, gg.rawgrade, gg.finalgrade, gg.feedback "
        "FROM mdl_grade_items gi LEFT JOIN mdl_grade_grades gg ON gg.itemid=gi.id AND gg.userid=%s "
        "WHERE gi.courseid=%s AND gi.itemtype='mod' ORDER BY gi.id",
        uid,
        STATE["course"],
    )
    for row in rows:
        R.note(f"grade row: {row}")
    ags = steun_log_lines(r"(?i)ags|score|lineitem|line item")
    if ags:
        R.note("Steun log about grades: " + " || ".join(ags[-4:]))
    lti_graded = [r for r in rows if r[1] == "lti" and r[4] is not None]
    check(lti_graded, f"no grade from Steun in the gradebook row of {username}")


def step_course_overview(step: Step) -> None:
    """The course's editing teacher sees, inside Moodle's iframe, how many participants of the
    course started and finished each wave: counts only (issue 13, roles)."""
    page = STATE["teacher_context"].pages[0]
    frame = frame_of(page, "#contentframe")
    nav_click(frame, frame.get_by_role("link", name="Deze cursus"))
    frame.locator("#course-counts").wait_for()
    R.shot(page, "course overview")
    row = frame.locator("#count-t1")
    started = int(row.locator(".started").inner_text())
    finished = int(row.locator(".finished").inner_text())
    caption = frame.locator("#course-counts caption").inner_text()
    R.note(f"{caption} Wave 1: started {started}, finished {finished}")
    text = frame_text(frame)
    check(
        "Leerling A" not in text and "participant1" not in text,
        "the overview shows a child or a person",
    )
    # participant1 (a student) and the editing teacher (who took part as a control) finished wave 1
    check(started >= 2 and finished >= 2, f"wave 1 counts {started}/{finished}, expected 2/2")


def step_sign_out(step: Step) -> None:
    """Issue 14: the editing teacher signs out inside Moodle's iframe; the session is over (the
    same cookie opens nothing) until a new launch from Moodle."""
    page = STATE["teacher_context"].pages[0]
    frame = frame_of(page, "#contentframe")
    if not frame.locator("#steun-signout").count():
        nav_click(frame, frame.get_by_role("link", name="Mijn leerlingen"))
    nav_click(frame, frame.locator("#steun-signout"))
    R.shot(page, "signed out")
    text = frame_text(frame)
    R.note(f"after Afmelden: {text.strip()[:120]!r}")
    check("Je bent afgemeld" in text, "the sign-out page did not appear")
    frame.goto(STEUN + "/study/children")
    text = frame_text(frame)
    R.note(f"a teacher page after sign-out: {text.strip()[:120]!r}")
    check("Je sessie is afgelopen" in text, "a teacher page still opened after the sign-out")
    check("Leerling A" not in text, "the children list showed after the sign-out")
    wave = pick_wave(STATE["ltis"])
    page.goto(f"{MOODLE}/mod/lti/view.php?id={wave[2]}")
    frame = frame_of(page, "#contentframe")
    what, _url = steun_outcome(frame, time.time() + LAUNCH_TIMEOUT)
    R.note(f"launched again from Moodle: '{what}'")
    check(what in ("consent", "dashboard", "children"), f"the new launch did not open: {what}")


def step_refusal_visible(step: Step) -> None:
    """Control: Moodle refuses a score for a user outside its graded roles (the editing teacher).

    Steun must keep that score as refused, visible to the operator (`steun grades status`,
    /healthz) with Moodle's answer, and Moodle's gradebook row stays empty (docs/admin.md)."""
    uid = STATE["users"]["editingteacher"]
    time.sleep(3)
    rows = sql(
        "SELECT gi.itemname, gg.finalgrade FROM mdl_grade_items gi LEFT JOIN mdl_grade_grades gg "
        "ON gg.itemid=gi.id AND gg.userid=%s WHERE gi.courseid=%s AND gi.itemmodule='lti' "
        "ORDER BY gi.id",
        uid,
        STATE["course"],
    )
    R.note(f"editing teacher's LTI grade rows in Moodle: {rows}")
    status = json.loads(steun("grades", "status", "--json"))
    R.note(f"`steun grades status --json`: counts {status['counts']}; refused {status['refused']}")
    health = subprocess.run(
        ["curl", "-s", "--cacert", str(VAR / "tls" / "bundle.pem"), STEUN + "/healthz"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    R.note(f"/healthz: {health.strip()[:300]}")
    check(all(r[1] is None for r in rows), "Moodle took a score for the editing teacher")
    check(status["counts"].get("refused", 0) >= 1, "no refused score in `steun grades status`")
    check(
        any("400" in (r["reason"] or "") for r in status["refused"]),
        "the refusal lacks Moodle's answer",
    )
    check('"refused"' in health, "/healthz does not count refused scores")


def step_export(step: Step) -> None:
    """e. steun export: one pseudonym with both course progress and questionnaire answers."""
    from steun_lti.plumbing.settings import load_settings
    from steun_lti.records.statements import hmac_key
    from xapi.pseudonym import pseudonymise

    R.note(steun("outbox", "run", "--until-empty", check_rc=False).replace("\n", " | ")[-300:])
    out_dir = VAR / "export"
    if out_dir.exists():
        for f in out_dir.iterdir():
            if f.is_file():
                f.unlink()
    R.note(steun("export", str(out_dir)).replace("\n", " | ")[-600:])
    tables: dict[str, list[dict[str, str]]] = {}
    for path in sorted(out_dir.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            tables[path.name] = list(csv.DictReader(fh))
    R.note("files: " + ", ".join(f"{n} ({len(rows)} rows)" for n, rows in tables.items()))
    # The pseudonyms Steun gives participant1: from the LTI launch (sub = Moodle's user id) and
    # from the course relay (the SCORM learner id = Moodle's username).
    key = hmac_key(load_settings())
    uid = STATE["users"]["participant1"]
    by_sub = pseudonymise(key, MOODLE, str(uid))
    by_username = pseudonymise(key, MOODLE, "participant1")
    R.note(
        f"participant1: pseudonym of LTI sub {uid!r} = {by_sub}; of SCORM learner id 'participant1' = {by_username}"
    )
    hits: dict[str, dict[str, int]] = {by_sub: {}, by_username: {}}
    for name, rows in tables.items():
        for row in rows:
            for value in row.values():
                if value in hits:
                    hits[value][name] = hits[value].get(name, 0) + 1
    R.note(
        f"rows with the LTI pseudonym: {hits[by_sub] or 'none'}; rows with the SCORM pseudonym: {hits[by_username] or 'none'}"
    )
    joined = [
        p
        for p, found in hits.items()
        if any("progress" in n for n in found) and any(("long" in n or "wide" in n) for n in found)
    ]
    check(
        joined,
        "no single pseudonym of participant1 has both course progress and questionnaire answers",
    )
    R.note(f"joined under one pseudonym: {joined}")
    progress = [r for r in tables.get("course_progress.csv", []) if r["pseudonym"] in joined]
    check(
        progress and progress[0].get("provenance", "").startswith("package-key:"),
        f"course progress without the package key's provenance: {progress}",
    )
    for name in ("course_progress.csv", "wide.csv"):
        for row in tables.get(name, []):
            if joined[0] in row.values():
                shown = {k: v for k, v in list(row.items())[:12] if v not in ("", None)}
                R.note(f"{name} row: {shown}")
                break


def step_teacher_wave(step: Step, browser: Any) -> None:
    """control: the editing teacher (Instructor) opens the same wave inside the iframe."""
    if "teacher_context" not in STATE:  # a partial run
        context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 1000})
        STATE["teacher_traffic"] = Traffic()
        STATE["teacher_traffic"].attach(context)
        login(context.new_page(), "editingteacher", PASSWORD)
        STATE["teacher_context"] = context
    context = STATE["teacher_context"]
    traffic: Traffic = STATE["teacher_traffic"]
    page = context.pages[0]
    wave = pick_wave(STATE["ltis"])
    page.goto(f"{MOODLE}/mod/lti/view.php?id={wave[2]}")
    t0 = time.time()
    frame = frame_of(page, "#contentframe")
    what, _url = steun_outcome(frame, time.time() + LAUNCH_TIMEOUT)
    R.shot(page, "teacher wave")
    R.note(f"cookie probe in Steun's frame (default Chromium settings): {cookie_probe(frame)}")
    R.note(f"Instructor launch of '{wave[1]}': '{what}' after {round(time.time() - t0, 1)} s")
    if traffic.launches:
        R.note(
            "launch claims: " + json.dumps(traffic.launches[-1]["claims"], sort_keys=True)[:1500]
        )
    check(
        what in ("consent", "dashboard", "children"),
        f"the Instructor did not reach the study: {what}",
    )


def cookie_probe(frame: Frame) -> str:
    """Can a page of Steun inside Moodle's iframe set an unpartitioned / a partitioned cookie?"""
    try:
        return str(
            frame.evaluate(
                """() => { document.cookie = 'probe3pc=1; SameSite=None; Secure; path=/';
            const a = document.cookie.includes('probe3pc=1');
            document.cookie = 'probe3pcp=1; SameSite=None; Secure; Partitioned; path=/';
            const b = document.cookie.includes('probe3pcp=1');
            return {unpartitioned_cookie_kept: a, partitioned_cookie_kept: b}; }"""
            )
        )
    except Exception as exc:
        return f"({type(exc).__name__})"


def step_blocked_cookies(step: Step, pw: Any) -> None:
    """variant: the editing teacher opens the wave in a Chromium that blocks third-party cookies
    (the setting "Block third-party cookies", as in Chrome's incognito windows)."""
    profile = VAR / "chromium-3pc-blocked"
    if profile.exists():
        import shutil

        shutil.rmtree(profile)
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(
        json.dumps({"profile": {"cookie_controls_mode": 1, "block_third_party_cookies": True}})
    )
    context = pw.chromium.launch_persistent_context(
        str(profile),
        executable_path="/usr/bin/chromium",
        args=CHROMIUM_ARGS,
        env={**ENV, "HOME": ENV["BROWSER_HOME"]},
        locale="nl-NL",
        viewport={"width": 1280, "height": 1000},
    )
    try:
        traffic = Traffic()
        traffic.attach(context)
        page = context.pages[0] if context.pages else context.new_page()
        login(page, "editingteacher", PASSWORD)
        wave = pick_wave(STATE["ltis"])
        t0 = time.time()
        page.goto(f"{MOODLE}/mod/lti/view.php?id={wave[2]}")
        frame = frame_of(page, "#contentframe")
        what, url = steun_outcome(frame, time.time() + LAUNCH_TIMEOUT)
        R.shot(page, "wave with third-party cookies blocked")
        R.note(f"cookie probe in Steun's frame: {cookie_probe(frame)}")
        R.note(
            f"third-party cookies blocked: Steun showed '{what}' in Moodle's iframe after {round(time.time() - t0, 1)} s ({url.split('?')[0]})"
        )
        for login_ in traffic.logins:
            R.note(
                f"OIDC login initiation ({login_['method']}, {login_['where']}): lti_storage_target={login_['lti_storage_target']!r}"
            )
        if what == "new-window-offered":
            link = frame.get_by_role("link", name="Open Steun in een nieuw venster")
            with context.expect_page(timeout=30000) as info:
                link.click()
            popup = info.value
            popup.wait_for_load_state("domcontentloaded")
            deadline = time.time() + LAUNCH_TIMEOUT
            while time.time() < deadline and (
                popup.url.startswith(STEUN + "/lti/") or popup.url.startswith(MOODLE)
            ):
                time.sleep(0.5)
            R.note(
                f"the new window ends on {popup.url.split('?')[0]}: {popup.evaluate('document.body.innerText')[:200]!r}"
            )
            try:
                popup.screenshot(path=str(REPORT / "y-new-window.png"))
                step.screenshots.append("y-new-window.png")
            except Exception:
                pass
        R.note("Set-Cookie from Steun: " + " || ".join(dict.fromkeys(traffic.set_cookies)))
        check(
            what in ("consent", "dashboard", "children"),
            f"the Instructor did not reach the study inside the iframe: {what}",
        )
    finally:
        context.close()


def state_from_db() -> None:
    """For a partial run (E2E_STEPS=...): what earlier steps of the last run left in Moodle."""
    course = sql("SELECT id FROM mdl_course WHERE shortname='STEUN-PD'")
    if course:
        STATE["course"] = course[0][0]
        STATE["users"] = dict(
            sql(
                "SELECT username, id FROM mdl_user WHERE username LIKE 'participant%%' OR username='editingteacher'"
            )
        )
    types = sql("SELECT id FROM mdl_lti_types ORDER BY id DESC LIMIT 1")
    if types:
        STATE["typeid"] = types[0][0]
    if course:
        STATE["ltis"] = sql(
            "SELECT l.id, l.name, cm.id FROM mdl_lti l JOIN mdl_course_modules cm ON cm.instance=l.id "
            "JOIN mdl_modules m ON m.id=cm.module AND m.name='lti' WHERE l.course=%s ORDER BY l.id",
            STATE["course"],
        )


def main() -> int:
    only = set(filter(None, ENV.get("E2E_STEPS", "").split(",")))
    if only:
        state_from_db()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=CHROMIUM_ARGS,
            env={**ENV, "HOME": ENV["BROWSER_HOME"]},  # the NSS db with our CA: real trust
        )
        steps: list[tuple[str, str, Callable[[Step], None], tuple[str, ...]]] = [
            (
                "a-register",
                "operator invite; admin registers Steun (Manage tools → Tool URL → Add LTI Advantage)",
                lambda s: step_register(s, browser),
                (),
            ),
            (
                "a-package",
                "operator downloads the course package for this Moodle (with its package key) from /lti/admin",
                lambda s: step_package(s, browser),
                ("a-register",),
            ),
            (
                "b-fixtures",
                "set-up data by Moodle's PHP API: course, people, SCORM activity (the downloaded package)",
                step_fixtures,
                ("a-package",),
            ),
            (
                "a-activate",
                "admin activates the pending tool, operator activates the deployment, tool shown in the course's activity chooser",
                step_activate,
                ("a-register", "b-fixtures"),
            ),
            (
                "c-deep-link",
                "editing teacher: Select content (Deep Linking) in Moodle's dialog, activities with grade items",
                lambda s: step_deep_link(s, browser),
                ("a-activate",),
            ),
            (
                "d-wave-iframe",
                "participant opens the wave activity inside Moodle's iframe (no new window)",
                lambda s: step_wave_launch(s, browser),
                ("c-deep-link",),
            ),
            (
                "d-study",
                "participant consents, adds children, answers the questionnaires",
                step_study,
                ("d-wave-iframe",),
            ),
            (
                "d-scorm",
                "participant (student), having consented in d-study, plays the SCORM course in Moodle's player (Enter, normal) to completion",
                lambda s: step_scorm(s, browser),
                ("b-fixtures", "d-study"),
            ),
            (
                "x-instructor-wave",
                "control: the editing teacher (Instructor) opens the wave inside the iframe",
                lambda s: step_teacher_wave(s, browser),
                ("c-deep-link",),
            ),
            (
                "x-instructor-study",
                "control: the editing teacher consents, adds children, answers the questionnaires",
                lambda s: step_study(s, "teacher"),
                ("x-instructor-wave",),
            ),
            (
                "x-instructor-grade",
                "control: Moodle refuses the editing teacher's score (not a graded role); Steun shows the refusal to the operator",
                step_refusal_visible,
                ("x-instructor-study",),
            ),
            (
                "x-course-overview",
                "the editing teacher sees the course's participation counts (Deze cursus) inside the iframe",
                step_course_overview,
                ("x-instructor-study", "d-study"),
            ),
            (
                "y-3pc-blocked",
                "variant: the editing teacher opens the wave in Chromium blocking third-party cookies",
                lambda s: step_blocked_cookies(s, pw),
                ("c-deep-link",),
            ),
            (
                "e-grades",
                "participant's gradebook row in Moodle's database has Steun's grade",
                step_grades,
                ("d-study",),
            ),
            (
                "e-export",
                "`steun export`: one pseudonym joins course progress and questionnaire answers",
                step_export,
                ("d-scorm", "d-study"),
            ),
            (
                "z-sign-out",
                "the editing teacher signs out inside the iframe (Afmelden); the session is over until a new launch",
                step_sign_out,
                ("x-course-overview",),
            ),
        ]
        for key, title, fn, needs in steps:
            if only and key not in only:
                continue
            R.run(key, title, fn, () if only else needs)
        timings = {k: STATE[k] for k in ("dl_launch_seconds", "wave_launch_seconds") if k in STATE}
        if timings:
            R.steps[-1].data["timings"] = timings
        browser.close()
    R.write()
    passed = sum(s.status == "PASS" for s in R.steps)
    print(f"{passed} of {len(R.steps)} steps passed. Report: {REPORT / 'summary.md'}")
    return 0 if passed == len(R.steps) else 1


if __name__ == "__main__":
    sys.exit(main())
