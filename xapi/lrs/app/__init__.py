"""The LRS as a Werkzeug WSGI app at ``/xapi/``: :class:`LrsApp` in ``wsgi``, a module per resource.

Rooms: ``wsgi`` (routing, CORS, the alternate request syntax, version negotiation, errors as
JSON; :func:`create_app`), ``messages`` (XRequest, XResponse), ``auth`` (Basic authentication,
scopes), ``about``, ``statements``, ``documents``, ``agents_activities``, ``withdrawal``.
"""

from xapi.lrs.app.about import EXTENSION_IRI, EXTENSIONS
from xapi.lrs.app.auth import READ_ANY
from xapi.lrs.app.messages import PREFIX, XRequest, XResponse, json_response
from xapi.lrs.app.statements import STATEMENT_PARAMS
from xapi.lrs.app.withdrawal import MAX_DELETE_IDS
from xapi.lrs.app.wsgi import ALLOWED_METHODS, ALT_HEADERS, CORS_HEADERS, LrsApp, create_app

__all__ = [
    "ALLOWED_METHODS",
    "ALT_HEADERS",
    "CORS_HEADERS",
    "EXTENSIONS",
    "EXTENSION_IRI",
    "MAX_DELETE_IDS",
    "PREFIX",
    "READ_ANY",
    "STATEMENT_PARAMS",
    "LrsApp",
    "XRequest",
    "XResponse",
    "create_app",
    "json_response",
]
