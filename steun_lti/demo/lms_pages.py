"""The pages of the demo LMS: course page, launches, gradebook, SCORM player, researcher's view.

The platform side (registration, launches, state) is in ``lms.py``; these pages only show it.
"""

from __future__ import annotations

import logging
import mimetypes
import secrets
from typing import Any

from flask import Flask, abort, redirect, render_template, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Request

from steun_lti.demo.users import STANDARDS, USERS

log = logging.getLogger("steun.demo")


def build_pages(lms: Any) -> Flask:
    """The demo LMS's own pages (``lms`` is the :class:`~steun_lti.demo.lms.DemoLms` they show)."""
    app = Flask(__name__, template_folder="templates", static_folder=None)
    app.config["SECRET_KEY"] = secrets.token_hex(16)

    @app.context_processor
    def common() -> dict[str, Any]:
        return {
            "lms": lms,
            "users": USERS,
            "tool": lms.tool_base,
            "lrs": lms.settings.lrs.endpoint,
        }

    @app.get("/")
    def home() -> ResponseReturnValue:
        return render_template(
            "home.html",
            placed=lms.placed,
            packages=lms.packages(),
            placed_now=request.args.get("geplaatst", type=int),
        )

    @app.get("/launch/<user_key>")
    def launch(user_key: str) -> ResponseReturnValue:
        user = USERS.get(user_key) or abort(404)
        if not lms.registered:
            return render_template("not_registered.html"), 503
        item = lms.item(request.args.get("item"))
        return render_template("launch.html", user=user, item=item, form=lms.login_form(user, item))

    @app.post("/deep_link_return")
    def deep_link_return() -> ResponseReturnValue:
        req: Request = request
        try:
            response = lms.platform.deep_link_return(req)
        except lms._mod.PlatformRefusal as exc:
            return f"Deep Linking response refused: {exc.message}", exc.status
        if response.status_code != 200:
            return response
        added = lms.record_placed(lms.platform.deep_link_responses[-1])
        return render_template("placed.html", added=added)

    @app.post("/opnieuw")
    def remove_placed() -> ResponseReturnValue:
        """Empty the demo course (placed items, gradebook), as a fresh course would be."""
        with lms._lock:
            lms.placed.clear()
            lms.platform.lineitems.clear()
            lms.platform.scores.clear()
        lms.save_state()
        return redirect(url_for("home"), code=303)

    @app.get("/cijfers")
    def gradebook() -> ResponseReturnValue:
        return render_template("gradebook.html", columns=lms.gradebook(), placed=lms.placed)

    @app.get("/cursus")
    def course_index() -> ResponseReturnValue:
        return render_template("course_index.html", packages=lms.packages())

    @app.get("/cursus/<standard>")
    def player(standard: str) -> ResponseReturnValue:
        packages = lms.packages()
        if standard not in packages:
            abort(404)
        user = USERS.get(request.args.get("als", "leerkracht-1")) or abort(404)
        if not (lms.node_modules / "scorm-again" / "dist" / f"{standard}.js").exists():
            return render_template("no_player.html", folder=lms.node_modules), 503
        return render_template(
            "player.html",
            standard=standard,
            user=user,
            start=url_for("package_file", standard=standard, path=lms.launch_file(standard)),
        )

    @app.get("/pakket/<standard>/<path:path>")
    def package_file(standard: str, path: str) -> ResponseReturnValue:
        if standard not in STANDARDS:
            abort(404)
        return send_from_directory(lms.dist / standard, path, max_age=0)

    @app.get("/vendor/scorm-again/<path:path>")
    def scorm_again(path: str) -> ResponseReturnValue:
        folder = lms.node_modules / "scorm-again" / "dist"
        if not folder.is_dir():
            abort(404)
        return send_from_directory(folder, path, max_age=0)

    @app.get("/zips/<name>")
    def package_zip(name: str) -> ResponseReturnValue:
        return send_from_directory(lms.dist, name, as_attachment=True)

    @app.get("/onderzoek")
    def researcher() -> ResponseReturnValue:
        statements, error = lms.latest_statements()
        return render_template(
            "researcher.html",
            statements=statements,
            error=error,
            files=lms.export_files(),
            export_log=lms.export_log,
        )

    @app.post("/onderzoek/export")
    def researcher_export() -> ResponseReturnValue:
        lms.run_export()
        return redirect(url_for("researcher") + "#export", code=303)

    @app.get("/export/<path:name>")
    def export_file(name: str) -> ResponseReturnValue:
        mimetypes.add_type("text/csv", ".csv")
        return send_from_directory(lms.export_dir, name, max_age=0)

    return app
