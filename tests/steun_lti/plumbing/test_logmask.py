"""Issue 14: secrets are masked in every log line, whichever logger wrote it."""

from __future__ import annotations

import io
import logging

from steun_lti.plumbing.logmask import MaskSecrets, mask


def test_mask_hides_invites_launch_ids_states_and_tokens() -> None:
    line = (
        "GET /lti/register/AbC-123_x?openid_configuration=https://m.example/c&registration_token=eyJa.eyJb.c"
        " /study/?lang=en&lti_launch=L1&state=S1&id_token=T1&login_hint=42 Bearer abc.def"
    )
    masked = mask(line)
    for secret in ("AbC-123_x", "eyJa", "L1", "S1", "T1", "=42", "abc.def"):
        assert secret not in masked
    assert "openid_configuration=https://m.example/c" in masked and "lang=en" in masked


def test_filter_masks_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskSecrets())
    logger = logging.getLogger("steun.test_logmask")
    logger.addHandler(handler)
    try:
        logger.warning("refused %s", "/lti/register/secret-token")
        try:
            raise ValueError("/study/?lti_launch=launch-secret")
        except ValueError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "secret-token" not in text and "launch-secret" not in text
    assert text.count("[masked]") >= 2
