"""The About resource: the xAPI versions served and Steun's own extension resources."""

from __future__ import annotations

from xapi import vocab
from xapi.lrs import xapi2
from xapi.lrs.app.auth import Resource
from xapi.lrs.app.messages import XRequest, XResponse, json_response
from xapi.lrs.exceptions import MethodNotAllowed

# Steun's own resources, listed in About: extension IRI -> path under the endpoint.
EXTENSION_IRI = vocab.LRS_EXTENSIONS
EXTENSIONS = {
    EXTENSION_IRI + "agent-delete": "extensions/agent",
    EXTENSION_IRI + "statements-delete": "extensions/statements/delete",
    EXTENSION_IRI + "statements-count": "extensions/statements/count",
}


class About(Resource):
    """GET about (no credential needed)."""

    def about(self, xreq: XRequest) -> XResponse:
        if xreq.method not in ("GET", "HEAD"):
            raise MethodNotAllowed()
        return json_response(
            {
                "version": xapi2.about_versions(xreq.header("X-Experience-API-Version")),
                "extensions": EXTENSIONS,
            }
        )
