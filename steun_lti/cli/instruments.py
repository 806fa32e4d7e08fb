"""``steun instruments``: check and list instrument and study definitions without starting the tool."""

from __future__ import annotations

from pathlib import Path

import click

from steun_lti.cli.common import friendly_errors, get_settings
from steun_lti.questionnaires.definition import tr


@click.group("instruments")
def instruments() -> None:
    """Questionnaire definitions (bundled demo + STEUN_INSTRUMENTS_DIR) and the study file."""


@instruments.command("check")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option(
    "--study", "study_file", type=click.Path(path_type=Path), help="Study file to check too."
)
@click.pass_context
def check(ctx: click.Context, folder: Path | None, study_file: Path | None) -> None:
    """Validate every definition (and the study); exit 2 with file, item and reason on the first error."""

    @friendly_errors
    def run() -> None:
        from steun_lti.questionnaires.registry import load_registry
        from steun_lti.study.definition import bundled_study_path, load_study

        settings = get_settings(ctx)
        registry = load_registry(folder or settings.instruments_dir)
        study = load_study(study_file or settings.study_file or bundled_study_path(), registry)
        click.echo(
            f"OK: {len(registry.instruments)} instruments, study {study.id!r} "
            f"with {len(study.waves)} waves ({study.source})"
        )

    run()


@instruments.command("list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """Show the instruments the tool would use, with their items and subscales."""

    @friendly_errors
    def run() -> None:
        from steun_lti.questionnaires.registry import load_registry

        registry = load_registry(get_settings(ctx).instruments_dir)
        for instrument in registry.instruments.values():
            subscales = ", ".join(f"{r.id} ({len(r.items)})" for r in instrument.subscales)
            click.echo(
                f"{instrument.id} {instrument.version} [{instrument.informant}] "
                f"{tr(instrument.title, 'nl')}: {len(instrument.items)} items, "
                f"{len(instrument.pages)} pages; {subscales or 'no scoring'}  ({instrument.source})"
            )

    run()
