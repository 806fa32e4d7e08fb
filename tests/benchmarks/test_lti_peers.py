"""The bare pylti1p3 peer of benchmarks/lti_peers.py is a correct tool, not a strawman: a whole
launch lands on its page, and an id_token is accepted once (pylti1p3 alone would take it again).
Nothing here is timed; ltijs (npm) stays out of `make test`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.lti_peers import (
    Browser,
    Tool,
    bare_tool_available,
    complete_flow,
    start_bare_tool,
)
from tests.support.platform import LEARNER, LaunchSpec

MISSING = bare_tool_available()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))


@pytest.fixture(scope="module")
def bare_tool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tool]:
    # Two workers: the launch, its landing page and a replay may each meet another process.
    tool = start_bare_tool(Path(tmp_path_factory.mktemp("bare")), workers=2, threads=2)
    yield tool
    tool.stop()


def test_a_complete_launch_lands_on_the_tools_page(bare_tool: Tool) -> None:
    flow = complete_flow(bare_tool)
    assert '<p id="role">Instructor</p>' in flow.landing
    assert '<p id="context">Groep 5</p>' in flow.landing
    learner = complete_flow(bare_tool, LaunchSpec(sub="learner-1", roles=[LEARNER]))
    assert '<p id="role">Learner</p>' in learner.landing


def test_a_replayed_id_token_is_refused(bare_tool: Tool) -> None:
    flow = complete_flow(bare_tool)
    # The same browser (its state cookie still set) posts the same id_token and state again,
    # and so does another browser: both refused, by the nonce that the first launch used up.
    for browser in (flow.browser, Browser()):
        status, _headers, text = browser.request("POST", flow.launch_url, flow.launch_form)
        assert status == 401, text
        assert "Invalid Nonce" in text


def test_a_token_for_another_state_or_from_a_forger_is_refused(bare_tool: Tool) -> None:
    flow = complete_flow(bare_tool)
    status, _headers, text = Browser().request(
        "POST", flow.launch_url, {**flow.launch_form, "state": "state-forged"}
    )
    assert (status, "State not found" in text) == (401, True), text
    header, body, signature = flow.launch_form["id_token"].split(".")
    forged = {**flow.launch_form, "id_token": f"{header}.{body}.{signature[::-1]}"}
    status, _headers, text = flow.browser.request("POST", flow.launch_url, forged)
    assert status == 401, text
