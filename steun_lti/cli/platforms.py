"""``steun platform ...`` and ``steun keys ...``: registrations, deployments, invites, tool keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from steun_lti.cli.common import friendly_errors, get_settings, open_database
from steun_lti.exceptions import SteunError
from steun_lti.lti import keys as tool_keys
from steun_lti.lti.models import LtiDeployment, LtiRegistration
from steun_lti.lti.registration import add_platform, create_invite, parse_duration, set_active
from steun_lti.records import course_channel
from steun_lti.records.statements import hmac_key


@contextmanager
def _session(ctx: click.Context) -> Iterator[Session]:
    database = open_database(get_settings(ctx))
    try:
        with database.session() as session:
            yield session
    finally:
        database.dispose()


@click.group()
def platform() -> None:
    """LMS registrations (LTI 1.3 platforms), their deployments and registration invites."""


@platform.command("add")
@click.option("--issuer", required=True, help="Platform ID (Moodle: the site URL).")
@click.option("--client-id", required=True, help="Client ID the LMS generated for Steun.")
@click.option("--auth-login-url", required=True, help="Authentication request URL (OIDC).")
@click.option("--auth-token-url", required=True, help="Access token URL (OAuth2).")
@click.option("--key-set-url", required=True, help="Public keyset URL (JWKS) of the LMS.")
@click.option("--audience", default=None, help="Token audience, when the LMS needs another one.")
@click.option(
    "--deployment-id", "deployment_ids", multiple=True, help="Deployment ID(s), activated."
)
@click.option("--name", default="", help="A label for the admin page.")
@click.pass_context
@friendly_errors
def platform_add(
    ctx: click.Context,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    audience: str | None,
    deployment_ids: tuple[str, ...],
    name: str,
) -> None:
    """Register an LMS by hand with the values it shows (or update that registration)."""
    with _session(ctx) as session:
        registration = add_platform(
            session,
            issuer=issuer,
            client_id=client_id,
            auth_login_url=auth_login_url,
            auth_token_url=auth_token_url,
            key_set_url=key_set_url,
            auth_audience=audience,
            name=name,
            deployment_ids=deployment_ids,
        )
        click.echo(f"Registered platform #{registration.id}: {issuer} (client {client_id}).")
        if not deployment_ids:
            click.echo(
                "No deployment ID given: the first launch creates it inactive; "
                "activate it with `steun platform activate`."
            )


@platform.command("list")
@click.pass_context
@friendly_errors
def platform_list(ctx: click.Context) -> None:
    """Registrations and their deployments (the number in front is what `activate` takes)."""
    with _session(ctx) as session:
        registrations = list(session.scalars(select(LtiRegistration).order_by(LtiRegistration.id)))
        if not registrations:
            click.echo("No platforms registered yet.")
        for reg in registrations:
            origin = f", from {reg.registered_from}" if reg.registered_from else ""
            click.echo(
                f"platform #{reg.id} {reg.issuer} client {reg.client_id} "
                f"({reg.created_via}{origin}, {reg.created_at:%Y-%m-%d %H:%M})"
            )
            for dep in reg.deployments:
                status = "active" if dep.active else "PENDING"
                click.echo(f"  deployment #{dep.id} {dep.deployment_id!r}: {status}")


@platform.command("activate")
@click.argument("deployment_rows", nargs=-1, type=int, required=True)
@click.option("--deactivate", is_flag=True, help="Deactivate instead.")
@click.pass_context
@friendly_errors
def platform_activate(
    ctx: click.Context, deployment_rows: tuple[int, ...], deactivate: bool
) -> None:
    """Activate (or deactivate) deployments by their number in `steun platform list`."""
    with _session(ctx) as session:
        for row_id in deployment_rows:
            deployment = session.get(LtiDeployment, row_id)
            if deployment is None:
                raise SteunError(f"there is no deployment #{row_id} (see `steun platform list`)")
            set_active(session, deployment, not deactivate)
            click.echo(
                f"Deployment #{row_id} {deployment.deployment_id!r} of "
                f"{deployment.registration.issuer}: {'inactive' if deactivate else 'active'}."
            )


@platform.command("invite")
@click.option("--for-host", default=None, help="Only an LMS on this host may use the link.")
@click.option("--expires", default="7d", show_default=True, help="Validity: 30m, 12h, 7d, 2w.")
@click.option("--activate", is_flag=True, help="Activate the new deployment without review.")
@click.option("--note", default="", help="Who the link is for (shown on the admin page).")
@click.pass_context
@friendly_errors
def platform_invite(
    ctx: click.Context, for_host: str | None, expires: str, activate: bool, note: str
) -> None:
    """Create a one-time Dynamic Registration link to send to a school's LMS admin."""
    settings = get_settings(ctx)
    with _session(ctx) as session:
        invite, token = create_invite(
            session,
            for_host=for_host,
            expires_in=parse_duration(expires),
            auto_activate=activate,
            note=note,
        )
        url = f"{settings.base_url.rstrip('/')}/lti/register/{token}"
        click.echo(url)
        click.echo(
            f"One-time link #{invite.id}, valid until {invite.expires_at:%Y-%m-%d %H:%M} UTC"
            + (f", only for {invite.for_host}" if invite.for_host else "")
            + ". The LMS admin pastes it as the tool URL of Dynamic Registration.",
            err=True,
        )


def _registration(session: Session, issuer: str, client_id: str | None) -> LtiRegistration:
    query = select(LtiRegistration).where(LtiRegistration.issuer == issuer)
    if client_id:
        query = query.where(LtiRegistration.client_id == client_id)
    found = list(session.scalars(query))
    if not found:
        raise SteunError(f"no platform with issuer {issuer!r} (see `steun platform list`)")
    if len(found) > 1:
        raise SteunError(f"{len(found)} platforms have issuer {issuer!r}: add --client-id")
    return found[0]


@platform.command("course-package")
@click.argument("issuer")
@click.option("--client-id", default=None, help="When several registrations share the issuer.")
@click.option(
    "--standard",
    type=click.Choice(course_channel.STANDARDS),
    default="scorm12",
    show_default=True,
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Zip to write."
)
@click.pass_context
@friendly_errors
def platform_course_package(
    ctx: click.Context, issuer: str, client_id: str | None, standard: str, out: Path
) -> None:
    """Write the course package for one LMS, with its package key (as /lti/admin hands it out)."""
    settings = get_settings(ctx)
    with _session(ctx) as session:
        if not out.parent.is_dir():
            raise SteunError(f"the folder {out.parent} does not exist")
        registration = _registration(session, issuer, client_id)
        _name, data, kid = course_channel.package_for(
            session,
            registration,
            standard,
            packages_dir=settings.resolved_packages_dir,
            base_url=settings.base_url,
            hmac_key=hmac_key(settings),
        )
        out.write_bytes(data)
        session.commit()
    click.echo(f"{out}: the {standard} package with package key {kid} of {issuer}.")


@platform.command("course-key")
@click.argument("issuer")
@click.option("--client-id", default=None, help="When several registrations share the issuer.")
@click.option("--revoke", is_flag=True, help="Revoke the platform's keys instead.")
@click.pass_context
@friendly_errors
def platform_course_key(
    ctx: click.Context, issuer: str, client_id: str | None, revoke: bool
) -> None:
    """Print the platform's package key as KID:KEY (for build_scorm.py --relay-key)."""
    settings = get_settings(ctx)
    with _session(ctx) as session:
        registration = _registration(session, issuer, client_id)
        if revoke:
            count = course_channel.revoke_keys(session, registration)
            session.commit()
            click.echo(f"Revoked {count} key(s) of {issuer}: its packages send nothing now.")
            return
        key = course_channel.current_key(session, registration)
        session.commit()
        click.echo(f"{key.kid}:{course_channel.key_secret(hmac_key(settings), key.kid)}")


@click.group()
def keys() -> None:
    """The tool's signing keys (published at /lti/jwks.json)."""


@keys.command("rotate")
@click.pass_context
@friendly_errors
def keys_rotate(ctx: click.Context) -> None:
    """Add a new signing key; the previous one stays published, older ones are retired."""
    with _session(ctx) as session:
        key = tool_keys.rotate(session)
        click.echo(
            f"New signing key {key.kid}; published keys: "
            + ", ".join(k.kid for k in tool_keys.active_keys(session))
        )


@keys.command("list")
@click.pass_context
@friendly_errors
def keys_list(ctx: click.Context) -> None:
    """Published keys, newest (the signing one) first."""
    with _session(ctx) as session:
        for key in tool_keys.active_keys(session):
            click.echo(f"{key.kid}  created {key.created_at:%Y-%m-%d %H:%M}")
