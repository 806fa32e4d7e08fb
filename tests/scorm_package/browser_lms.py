"""Drive a built package in headless Chromium against scorm-again (the test LMS in host.html)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Frame, Page

# SCORM 1.2 CMITimespan and SCORM 2004 ISO 8601 duration, as the standards write them.
SESSION_TIME = {
    "scorm12": re.compile(r"^\d{2,4}:\d{2}:\d{2}(\.\d{1,2})?$"),
    "scorm2004": re.compile(
        r"^P(?!$)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d{1,2})?S)?)?$"
    ),
}
CMI_IDENTIFIER = re.compile(r"^[!-~]{1,255}$")  # printable ASCII, no white space
SUSPEND_LIMIT = {"scorm12": 4096, "scorm2004": 64000}
ELEMENTS = {
    "scorm12": {
        "init": "LMSInitialize",
        "term": "LMSFinish",
        "location": "cmi.core.lesson_location",
        "time": "cmi.core.session_time",
    },
    "scorm2004": {
        "init": "Initialize",
        "term": "Terminate",
        "location": "cmi.location",
        "time": "cmi.session_time",
    },
}
REFLECTION_TEXT = (
    "Ik merk dat een vaste begroeting bij de deur veel rust geeft; morgen begin ik daarmee, "
    "en ik schrijf op welke kinderen extra aandacht nodig hebben. {Ook} accenten: één, café. "
)


@dataclass
class Session:
    """One launch of the package: the page of the test LMS and the SCO's frame or popup."""

    host: Page
    sco: Frame | Page
    standard: str
    how: str

    def log(self) -> list[dict[str, Any]]:
        return list(self.host.evaluate("host.log"))

    def values(self) -> dict[str, str]:
        return dict(self.host.evaluate("host.values"))

    def close(self) -> None:
        """Leave the course the way a learner does: the frame goes, or the popup is closed."""
        if self.how == "iframe":
            self.host.evaluate("host.closeIframe()")
        else:
            assert isinstance(self.sco, Page)
            with self.sco.expect_event("close"):
                self.host.evaluate("host.closePopup()")
        term = ELEMENTS[self.standard]["term"]
        self.host.wait_for_function(f"host.count('{term}') > 0")


def launch(
    host: Page,
    base_url: str,
    standard: str,
    how: str,
    prior: dict[str, Any] | None,
    quirks: dict[str, bool] | None = None,
    path: str = "",
) -> Session:
    """Open the test LMS, give it an API (with data from an earlier session), launch the SCO."""
    if not host.url.startswith(base_url):
        host.goto(f"{base_url}/host.html")
    host.evaluate("([s, p, q]) => host.start(s, p, q)", [standard, prior, quirks])
    url = f"{path}/{standard}/index.html"
    sco: Frame | Page
    if how == "iframe":
        host.evaluate("u => host.openIframe(u)", url)
        host.wait_for_function(
            "host.frame && host.frame.contentWindow && host.frame.contentWindow.SteunRuntime"
        )
        frame = host.frame(url=re.compile(re.escape(url)))
        assert frame is not None
        sco = frame
    else:
        with host.expect_popup() as info:
            host.evaluate("u => host.openPopup(u)", url)
        sco = info.value
        sco.wait_for_function("window.SteunRuntime !== undefined")
    return Session(host, sco, standard, how)


def prior_data(standard: str, values: dict[str, str]) -> dict[str, Any]:
    """What an LMS hands back on the next launch: bookmark, suspend_data, status, entry=resume."""
    if standard == "scorm12":
        return {
            "cmi": {
                "core": {
                    "lesson_location": values.get("cmi.core.lesson_location", ""),
                    "lesson_status": values.get("cmi.core.lesson_status", "incomplete"),
                    "entry": "resume",
                },
                "suspend_data": values.get("cmi.suspend_data", ""),
            }
        }
    return {
        "cmi": {
            "location": values.get("cmi.location", ""),
            "completion_status": values.get("cmi.completion_status", "incomplete"),
            "entry": "resume",
            "suspend_data": values.get("cmi.suspend_data", ""),
        }
    }


def visible_section(sco: Frame | Page) -> Any:
    return sco.locator("section.page:not([hidden])")


def answer_current(sco: Frame | Page, correct: bool = True) -> bool:
    """Answer the exercise on the current page through the UI; False if the page has none."""
    section = visible_section(sco)
    forms = section.locator("form[data-exercise]")
    if forms.count() == 0:
        return False
    form = forms.first
    index = int(form.get_attribute("data-exercise") or "0")
    ex = sco.evaluate("i => SteunRuntime.config.exercises[i]", index)
    if ex["type"] in ("choice", "multiple"):
        wanted = [j for j, o in enumerate(ex["options"]) if o["correct"] == correct]
        for j in wanted[: 1 if ex["type"] == "choice" else None]:
            form.locator(f"#ex{index}-{j}").check()
    elif ex["type"] == "sorting":
        n_cat = len(ex["categories"])
        for j, item in enumerate(ex["items"]):
            cat = item["category"] if correct else (item["category"] + 1) % n_cat
            form.locator(f"#ex{index}-{j}").select_option(str(cat))
    else:
        text = (REFLECTION_TEXT * 100)[: ex["maxLength"]]
        form.locator("textarea").fill(text)
    form.locator("button[type=submit]").click()
    form.locator("[data-feedback-area] p").first.wait_for()
    return True


def answer_final(sco: Frame | Page, correct: bool = True) -> None:
    form = visible_section(sco).locator("form[data-final]")
    for fs in form.locator("fieldset[data-question]").all():
        index = int(fs.get_attribute("data-question") or "0")
        ex = sco.evaluate("i => SteunRuntime.config.exercises[i]", index)
        wanted = [j for j, o in enumerate(ex["options"]) if o["correct"] == correct]
        for j in wanted[: 1 if ex["type"] == "choice" else None]:
            fs.locator(f"#ex{index}-{j}").check()
    form.get_by_role("button", name="Lever de toets in").click()
    form.locator("[data-final-result]").filter(has_text="score").wait_for()


def click_through(sco: Frame | Page) -> None:
    """From wherever the learner is: every page, every exercise answered, the final check passed."""
    sco.evaluate("SteunRuntime.show(0)")
    sco.get_by_role("button", name=re.compile("Begin met de cursus|Ga verder")).click()
    sco.evaluate("SteunRuntime.show(1)")
    n_pages = len(sco.evaluate("SteunRuntime.config.pages"))
    while True:
        current = sco.evaluate("SteunRuntime.current()")
        kind = sco.evaluate("i => SteunRuntime.config.pages[i].kind", current)
        if kind == "final":
            answer_final(sco)
        else:
            answer_current(sco)
        if current == n_pages - 1:
            break
        sco.get_by_role("button", name="Volgende").click()
        sco.wait_for_function(f"SteunRuntime.current() === {current + 1}")
