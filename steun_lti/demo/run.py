"""``steun demo``: build the course, start the LRS, the tool and the demo LMS, print what to open.

Order of work: migrate the database; build the course packages (when ``build_scorm.py`` is in the
checkout) into ``<data dir>/dist``; start the LRS and the tool as child processes and the demo
LMS in a thread; register the demo LMS with the tool by LTI Dynamic Registration from a one-time
invite (only when the tool does not already know it, so a second run reuses the registration);
give the demo LMS's unpacked packages its package key (decision 0012); optionally seed demo answers and run the export and report; then wait
for Ctrl-C and stop everything.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
import requests

from steun_lti.demo.lms import ROOT, DemoError, DemoLms, demo_env, unpack_packages
from steun_lti.demo.users import STANDARDS
from steun_lti.plumbing.settings import Settings

STEUN = [sys.executable, "-m", "steun_lti"]


class Supervisor:
    """Child processes and the Ctrl-C flag; stopping is quiet (no traceback on SIGINT)."""

    def __init__(self) -> None:
        self.stopping = False
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping = True

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        # A session of its own: Ctrl-C in the terminal reaches only us, and we stop the children
        # with SIGTERM (gunicorn's graceful shutdown), so no request is cut off half-way.
        proc = subprocess.Popen([*STEUN, *args], env=env, cwd=ROOT, start_new_session=True)
        self.procs.append((name, proc))

    def check(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None and not self.stopping:
                click.echo(f"The {name} process stopped (exit {proc.returncode}).", err=True)
                self.stopping = True

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def wait_for(self, what: str, ready: Callable[[], bool], seconds: float = 60) -> bool:
        deadline = time.monotonic() + seconds
        while not self.stopping:
            self.check()
            if self.stopping:
                break
            if ready():
                return True
            if time.monotonic() > deadline:
                raise DemoError(f"{what} did not answer within {seconds:.0f} s")
            self.sleep(0.1)
        return False

    def run_until_stopped(self) -> None:
        while not self.stopping:
            self.check()
            self.sleep(0.2)

    def stop_all(self) -> None:
        for _name, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _name, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()


def answers(url: str, auth: tuple[str, str] | None = None) -> bool:
    try:
        return requests.get(url, timeout=1, auth=auth).status_code < 500
    except requests.RequestException:
        return False


def build_packages(settings: Settings, out: Path) -> list[Path]:
    """Build both SCORM packages (plain, as for dist/), when the checkout has the builder."""
    script = ROOT / "build_scorm.py"
    if not script.exists():
        click.echo("No build_scorm.py in this checkout yet: no course package to play.")
        return []
    click.echo(f"Building the course packages into {out} ...")
    done = subprocess.run(
        [sys.executable, str(script), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        click.echo(
            "The course build failed; the demo runs without it:\n" + done.stderr.strip(), err=True
        )
        return []
    return unpack_packages(out)


def demo_registration(session: Any, lms: DemoLms) -> Any:
    """The tool's registration of the demo LMS (issuer and client id of its saved state)."""
    from sqlalchemy import select

    from steun_lti.lti.models import LtiRegistration

    tool = lms.platform.tool
    if tool is None:
        return None
    return session.scalars(
        select(LtiRegistration).where(
            LtiRegistration.issuer == lms.platform.issuer,
            LtiRegistration.client_id == tool.client_id,
        )
    ).first()


def key_packages(settings: Settings, lms: DemoLms) -> str:
    """Give the demo LMS's unpacked packages its package key, as a school's admin would by
    importing the package downloaded from /lti/admin (decision 0012)."""
    from steun_lti.plumbing.db import Database
    from steun_lti.records.course_channel import current_key, key_secret, relay_url
    from steun_lti.records.statements import hmac_key
    from xapi.course_relay import RELAY_FILE, relay_script

    tool = lms.platform.tool
    folders = [lms.dist / s for s in STANDARDS if (lms.dist / s / RELAY_FILE).is_file()]
    if tool is None or not folders:
        return "The course packages send no learning records (no package or no registration)."
    database = Database(settings.resolved_database_url)
    try:
        with database.session() as session:
            registration = demo_registration(session, lms)
            if registration is None:
                return "The course packages send no learning records (no registration)."
            kid = current_key(session, registration).kid
            session.commit()
    finally:
        database.dispose()
    script = relay_script(relay_url(settings.base_url), kid, key_secret(hmac_key(settings), kid))
    for folder in folders:
        (folder / RELAY_FILE).write_text(script)
    return f"The demo LMS's course packages carry its package key {kid} (learning records on)."


def registration_is_known(settings: Settings, lms: DemoLms) -> bool:
    """Does the tool hold an active registration and deployment for the demo LMS's state?"""
    from sqlalchemy import select

    from steun_lti.lti.models import LtiDeployment
    from steun_lti.plumbing.db import Database

    tool = lms.platform.tool
    if tool is None:
        return False
    database = Database(settings.resolved_database_url)
    try:
        with database.session() as session:
            registration = demo_registration(session, lms)
            if registration is None or not registration.active:
                return False
            deployment = session.scalars(
                select(LtiDeployment).where(
                    LtiDeployment.registration_id == registration.id,
                    LtiDeployment.deployment_id == tool.deployment_id,
                )
            ).first()
            return deployment is not None and deployment.active
    finally:
        database.dispose()


def register(settings: Settings, lms: DemoLms) -> str:
    """Register the demo LMS as a school's admin would: Dynamic Registration with an invite."""
    if registration_is_known(settings, lms):
        return "The demo LMS was already registered with the tool; reusing that registration."
    from steun_lti.lti.registration import create_invite
    from steun_lti.plumbing.db import Database

    database = Database(settings.resolved_database_url)
    try:
        with database.session() as session:
            _invite, token = create_invite(
                session,
                for_host="127.0.0.1",
                expires_in=timedelta(minutes=10),
                auto_activate=True,  # a demo has no operator to review it
                note="demo LMS (steun demo)",
            )
    finally:
        database.dispose()
    invite_url = f"{settings.base_url.rstrip('/')}/lti/register/{token}"
    try:
        response = requests.get(lms.registration_url(invite_url), timeout=30)
    except requests.RequestException as exc:
        raise DemoError(f"Dynamic Registration with the tool failed: {exc}") from exc
    if response.status_code != 200 or not lms.registered:
        raise DemoError(
            f"Dynamic Registration with the tool failed ({response.status_code}); "
            "see the tool's log above."
        )
    lms.save_state()
    return (
        "Registered the demo LMS with the tool by LTI Dynamic Registration "
        f"(one-time invite; client {lms.platform.tool.client_id})."
    )


def print_plan(settings: Settings, lms_url: str) -> None:
    base = settings.base_url.rstrip("/")
    lrs = f"http://{settings.lrs_server.host}:{settings.lrs_server.port}/xapi/about"
    lines = [
        "",
        "Steun demo on this machine. Open, in this order:",
        f"  1. {lms_url}/   the demo LMS (a stand-in for your school's LMS). On it:",
        '       a. "Items plaatsen als beheerder": place the questionnaires in the course',
        "          (LTI Deep Linking); each wave gets a gradebook column;",
        '       b. "Open als leerkracht 1" next to a placed wave: consent, add a child,',
        "          answer the questionnaires (every answer is saved at once);",
        '       c. "Open als leerkracht 3 (cursist / Learner)": a teacher enrolled as a student takes part too.',
        f"  2. {lms_url}/cursus      the course package playing in a SCORM player;",
        f"  3. {lms_url}/cijfers     the gradebook: completion sent back by the tool (AGS);",
        f"  4. {lms_url}/onderzoek   the researcher: statements in the LRS, export, report.",
        "  Behind the scenes:",
        f"     {base}/healthz   (the tool: version, database and LRS status)",
        f"     {lrs}   (the embedded Learning Record Store)",
        f"     {base}/lti/   (the URLs an LMS admin copies)",
        "Press Ctrl-C to stop everything.",
        "",
    ]
    click.echo("\n".join(lines))


def run_demo(settings: Settings, *, seed: bool, serve: bool) -> None:
    env = demo_env(settings)
    subprocess.run([*STEUN, "db", "upgrade"], env=env, check=True, cwd=ROOT)
    dist = settings.data_dir / "dist"
    build_packages(settings, dist)
    if not serve and not seed:
        return
    settings = settings.model_copy(update={"demo_mode": True})
    supervisor = Supervisor()
    lms: DemoLms | None = None
    try:
        supervisor.start("lrs", ["lrs", "serve"], env)
        supervisor.start("tool", ["serve", "--workers", "2"], env)
        lms = DemoLms(settings, port=settings.demo_lms_port).start()
        base = settings.base_url.rstrip("/")
        lrs = f"http://{settings.lrs_server.host}:{settings.lrs_server.port}/xapi/about"
        if not (
            supervisor.wait_for("The LRS", lambda: answers(lrs))
            and supervisor.wait_for("The tool", lambda: answers(base + "/healthz"))
        ):
            return
        click.echo(register(settings, lms))
        click.echo(key_packages(settings, lms))
        if seed and not supervisor.stopping:
            from steun_lti.demo.seed import seed_demo

            click.echo(seed_demo(settings, lms))
        if not serve or supervisor.stopping:
            return
        # Only now that the LRS and the tool answer (issue 17: it came ~20 s too early).
        print_plan(settings, lms.url)
        click.echo(f"Ready. Start at {lms.url}/ (Ctrl-C stops everything).")
        supervisor.run_until_stopped()
    except DemoError:
        if supervisor.stopping:
            return  # Ctrl-C during start-up: whatever failed was stopping anyway
        raise
    finally:
        supervisor.stop_all()
        if lms is not None:
            lms.stop()
        click.echo("Steun demo stopped.")
