"""A fake LMS platform for tests and the demo: the other side of LTI 1.3, over real HTTP.

It is a small WSGI app served on 127.0.0.1 (port 0) in a thread. It signs id_tokens with RS256
(keys it can rotate), serves its JWKS, answers the OIDC authorization request by auto-posting
``id_token`` and ``state`` to the tool's redirect URI (so a browser follows it like a real LMS),
issues OAuth2 tokens for client_credentials with a ``private_key_jwt`` assertion verified against
the tool's JWKS, keeps AGS line items and records scores, lists NRPS members (ids only), verifies
the tool's Deep Linking response, and offers openid-configuration and a registration endpoint for
LTI Dynamic Registration. ``/course/<hint>`` is an LMS page that embeds the tool in an iframe and
answers the LTI platform-storage postMessages (``lti.put_data`` / ``lti.get_data``).

It imports nothing from pytest or Steun, so the demo can reuse it.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
INSTRUCTOR = LIS + "membership#Instructor"
LEARNER = LIS + "membership#Learner"
ADMINISTRATOR = LIS + "institution/person#Administrator"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
LINEITEM_READ_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


@dataclass
class ToolRegistration:
    """What the platform knows about the tool."""

    client_id: str
    deployment_id: str
    login_url: str
    redirect_uris: list[str]
    jwks_url: str
    target_link_uri: str


@dataclass
class LaunchSpec:
    """One launch the platform will make; ``claims``/``drop`` tweak the id_token."""

    sub: str = "user-1"
    roles: list[str] = field(default_factory=lambda: [INSTRUCTOR])
    message_type: str = "LtiResourceLinkRequest"
    context_id: str = "course-1"
    resource_link_id: str = "link-1"
    custom: dict[str, str] = field(default_factory=dict)
    return_url: str | None = None
    ags: bool = True
    ags_lineitem: bool = True  # False: only ``lineitems`` (a link placed without Deep Linking)
    ags_scopes: list[str] | None = None  # the scopes granted; default AGS_SCOPES
    nrps: bool = True
    target_link_uri: str | None = None
    deployment_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return jwk


def new_key() -> SigningKey:
    return SigningKey(
        "p-" + secrets.token_hex(6), rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )


def autopost(action: str, fields: dict[str, str], target: str = "_self") -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )
    return (
        "<!doctype html><html><body>"
        f'<form id="f" method="post" action="{html.escape(action)}" target="{html.escape(target)}">'
        f"{inputs}<noscript><button>Continue</button></noscript></form>"
        "<script>document.getElementById('f').submit()</script></body></html>"
    )


COURSE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Fake LMS course</title></head>
<body><h1>Fake LMS</h1>
<iframe name="tool" id="tool" title="tool" style="width:100%;height:600px"
        allow="clipboard-write"></iframe>
<script>
var store = {};
window.addEventListener('message', function (ev) {
  var d = ev.data || {};
  if (d.subject === 'lti.put_data') {
    store[ev.origin + '|' + d.key] = d.value;
    ev.source.postMessage({subject: 'lti.put_data.response', message_id: d.message_id,
                           key: d.key, value: d.value}, ev.origin);
  } else if (d.subject === 'lti.get_data') {
    var v = store[ev.origin + '|' + d.key];
    var answer = {subject: 'lti.get_data.response', message_id: d.message_id, key: d.key};
    if (v === undefined) { answer.error = {code: 'bad_request', message: 'no such key'}; }
    else { answer.value = v; }
    ev.source.postMessage(answer, ev.origin);
  } else if (d.subject === 'lti.capabilities') {
    ev.source.postMessage({subject: 'lti.capabilities.response', message_id: d.message_id,
      supported_messages: [{subject: 'lti.put_data'}, {subject: 'lti.get_data'}]}, ev.origin);
  }
});
</script>
%(form)s
<script>document.getElementById('login').submit()</script>
</body></html>"""


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class FakePlatform:
    """Start with :meth:`start`; ``issuer`` is its base URL (``public_host`` may differ from
    127.0.0.1, e.g. ``localhost``, to make the tool's iframe cross-site in a browser)."""

    def __init__(
        self, public_host: str = "127.0.0.1", registration_token: str | None = None
    ) -> None:
        self.public_host = public_host
        self.keys: list[SigningKey] = [new_key()]
        self.tool: ToolRegistration | None = None
        self.launches: dict[str, LaunchSpec] = {}
        self.requests: list[str] = []  # "METHOD /path" of every request that reached us
        self.scores: list[dict[str, Any]] = []
        self.lineitems: dict[str, dict[str, Any]] = {}
        self._lineitem_seq = 0
        self.lineitems_page_size: int | None = None  # page line item lists (Link rel="next")
        self.lineitems_filtered = True  # False: ignore the query filters, as some LMSs do
        self.on_lineitem_create: Callable[[], None] | None = None  # runs before a POST lineitems
        # Faults of the gradebook: refuse scores of these users with this status (Moodle: 400 for
        # users outside its graded roles), or answer every score POST / token request with a
        # status (503: the LMS is down for a while) until set back to None.
        self.refuse_scores: dict[str, int] = {}
        self.scores_down: int | None = None
        self.token_down: int | None = None
        self.deep_link_responses: list[dict[str, Any]] = []
        self.registrations: list[dict[str, Any]] = []
        self.access_tokens: dict[str, str] = {}  # token -> scope
        self.registration_token = registration_token or secrets.token_urlsafe(16)
        self.tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.config_overrides: dict[str, Any] = {}  # tweak openid-configuration in tests
        self.config_redirect: str | None = None  # answer openid-configuration with a redirect
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, port: int = 0, app: Any = None) -> FakePlatform:
        """Serve on ``port`` (a free one by default); ``app`` may wrap :meth:`wsgi` (the demo LMS)."""
        self._server = make_server(
            "127.0.0.1", port, app or self.wsgi, threaded=True, request_handler=QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def issuer(self) -> str:
        assert self._server is not None, "start() the platform first"
        return f"http://{self.public_host}:{self._server.server_port}"

    @property
    def auth_url(self) -> str:
        return self.issuer + "/auth"

    @property
    def token_url(self) -> str:
        return self.issuer + "/token"

    @property
    def jwks_url(self) -> str:
        return self.issuer + "/jwks.json"

    @property
    def openid_configuration_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    # -- keys -------------------------------------------------------------------------

    @property
    def key(self) -> SigningKey:
        return self.keys[-1]

    def rotate_key(self, keep_old: bool = False) -> SigningKey:
        key = new_key()
        self.keys = [*self.keys, key] if keep_old else [key]
        return key

    def sign(
        self,
        claims: dict[str, Any],
        *,
        key: SigningKey | None = None,
        headers: dict[str, Any] | None = None,
        kid: str | None = "default",
    ) -> str:
        key = key or self.key
        hdr = dict(headers or {})
        if kid == "default":
            hdr["kid"] = key.kid
        elif kid is not None:
            hdr["kid"] = kid
        return jwt.encode(claims, key.private, algorithm="RS256", headers=hdr)

    # -- launches ---------------------------------------------------------------------

    def register_tool(self, tool: ToolRegistration) -> None:
        self.tool = tool

    def prepare(self, spec: LaunchSpec | None = None) -> str:
        """Remember a launch; return its lti_message_hint."""
        hint = "hint-" + secrets.token_hex(8)
        self.launches[hint] = spec or LaunchSpec()
        return hint

    def login_params(self, hint: str, *, storage_target: str | None = None) -> dict[str, str]:
        """The third-party login initiation the platform sends to the tool's login URL."""
        assert self.tool is not None
        spec = self.launches[hint]
        params = {
            "iss": self.issuer,
            "login_hint": spec.sub,
            "lti_message_hint": hint,
            "target_link_uri": spec.target_link_uri or self.tool.target_link_uri,
            "client_id": self.tool.client_id,
            "lti_deployment_id": spec.deployment_id or self.tool.deployment_id,
        }
        if storage_target:
            params["lti_storage_target"] = storage_target
        return params

    def course_url(self, spec: LaunchSpec | None = None, *, storage: bool = True) -> str:
        """An LMS page that launches the tool in an iframe (offering platform storage or not)."""
        return self.issuer + "/course/" + self.prepare(spec) + ("" if storage else "?storage=no")

    def claims_for(self, spec: LaunchSpec, nonce: str, *, now: int | None = None) -> dict[str, Any]:
        assert self.tool is not None
        now = int(time.time()) if now is None else now
        issuer = self.issuer
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": self.tool.client_id,
            "sub": spec.sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": "Juf Jansen",  # the tool must never store these
            "email": "jansen@school.example",
            "locale": "nl-NL",
            CLAIM + "message_type": spec.message_type,
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": spec.deployment_id or self.tool.deployment_id,
            CLAIM + "target_link_uri": spec.target_link_uri or self.tool.target_link_uri,
            CLAIM + "roles": spec.roles,
            CLAIM + "context": {
                "id": spec.context_id,
                "title": "Groep 5",
                "type": [LIS + "course"],
            },
            CLAIM + "tool_platform": {"guid": "fake-lms", "product_family_code": "fake"},
            CLAIM + "custom": spec.custom,
            CLAIM + "lis": {"person_sourcedid": "sis-123"},
        }
        if spec.return_url:
            claims[CLAIM + "launch_presentation"] = {
                "document_target": "iframe",
                "return_url": spec.return_url,
            }
        if spec.message_type == "LtiResourceLinkRequest":
            claims[CLAIM + "resource_link"] = {"id": spec.resource_link_id, "title": "Steun"}
        if spec.message_type == "LtiDeepLinkingRequest":
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": issuer + "/deep_link_return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": True,
                "data": "opaque-" + spec.context_id,
            }
        if spec.ags:
            base = f"{issuer}/ags/{spec.context_id}/lineitems"
            endpoint: dict[str, Any] = {
                "scope": list(AGS_SCOPES if spec.ags_scopes is None else spec.ags_scopes),
                "lineitems": base,
            }
            if spec.ags_lineitem:
                endpoint["lineitem"] = self._lineitem_for(spec)
            claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = endpoint
        if spec.nrps:
            claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = {
                "context_memberships_url": f"{issuer}/nrps/{spec.context_id}/memberships",
                "service_versions": ["2.0"],
            }
        claims.update(spec.claims)
        for name in spec.drop:
            claims.pop(name, None)
        return claims

    def _new_lineitem_number(self) -> int:
        """Never the number of a deleted line item again (a deleted column's URL stays dead)."""
        self._lineitem_seq = max(self._lineitem_seq, len(self.lineitems)) + 1
        return self._lineitem_seq

    def _lineitem_for(self, spec: LaunchSpec) -> str:
        with self._lock:
            for url, item in self.lineitems.items():
                if item.get("resourceLinkId") == spec.resource_link_id:
                    return url
            url = f"{self.issuer}/ags/{spec.context_id}/lineitems/{self._new_lineitem_number()}"
            self.lineitems[url] = {
                "id": url,
                "label": "Steun",
                "scoreMaximum": 1,
                "resourceLinkId": spec.resource_link_id,
            }
            return url

    # -- HTTP ---------------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        with self._lock:
            self.requests.append(f"{request.method} {request.path}")
        try:
            response = self.dispatch(request)
        except PlatformRefusal as exc:
            response = Response(
                json.dumps({"error": exc.message}), exc.status, content_type="application/json"
            )
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/jwks.json":
            return self._json({"keys": [k.public_jwk for k in self.keys]})
        if path == "/auth":
            return self.authorize(request)
        if path == "/token" and request.method == "POST":
            if self.token_down is not None:
                raise PlatformRefusal("token service unavailable", self.token_down)
            return self.token(request)
        if path.startswith("/course/"):
            return self.course(path.removeprefix("/course/"), request.args.get("storage") != "no")
        if path.startswith("/ags/"):
            return self.ags(request)
        if path.startswith("/nrps/"):
            self._require_token(request, NRPS_SCOPE)
            return self._json(
                {
                    "id": request.url,
                    "members": [{"user_id": "user-1", "roles": [INSTRUCTOR], "status": "Active"}],
                }
            )
        if path == "/deep_link_return" and request.method == "POST":
            return self.deep_link_return(request)
        if path == "/.well-known/openid-configuration":
            if self.config_redirect:
                return Response("", 302, {"Location": self.config_redirect})
            return self._json({**self.openid_configuration(), **self.config_overrides})
        if path == "/register" and request.method == "POST":
            return self.register(request)
        return Response("not found", 404)

    @staticmethod
    def _json(data: Any, status: int = 200, content_type: str = "application/json") -> Response:
        return Response(json.dumps(data), status, content_type=content_type)

    def authorize(self, request: Request) -> Response:
        tool = self.tool
        if tool is None:
            raise PlatformRefusal("no tool registered", 400)
        args = request.values
        for name, expected in (
            ("scope", "openid"),
            ("response_type", "id_token"),
            ("response_mode", "form_post"),
            ("prompt", "none"),
        ):
            if args.get(name) != expected:
                raise PlatformRefusal(f"{name} must be {expected}", 400)
        if args.get("client_id") != tool.client_id:
            raise PlatformRefusal("unknown client_id", 400)
        if args.get("redirect_uri") not in tool.redirect_uris:
            raise PlatformRefusal("redirect_uri not registered", 400)
        if not args.get("nonce") or not args.get("state"):
            raise PlatformRefusal("nonce and state are required", 400)
        spec = self.launches.get(args.get("lti_message_hint", ""))
        if spec is None or args.get("login_hint") != spec.sub:
            raise PlatformRefusal("login_hint/lti_message_hint do not match a launch", 400)
        claims = self.claims_for(spec, args["nonce"])
        if self.tamper is not None:
            claims = self.tamper(claims)
        token = self.sign(claims)
        page = autopost(args["redirect_uri"], {"id_token": token, "state": args["state"]})
        return Response(page, 200, content_type="text/html; charset=utf-8")

    def course(self, hint: str, storage: bool = True) -> Response:
        if hint not in self.launches or self.tool is None:
            return Response("no such course page", 404)
        params = self.login_params(hint, storage_target="_parent" if storage else None)
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        form = f'<form id="login" method="post" action="{html.escape(self.tool.login_url)}" target="tool">{inputs}</form>'
        return Response(
            COURSE_PAGE.replace("%(form)s", form), 200, content_type="text/html; charset=utf-8"
        )

    def _tool_keys(self) -> dict[str, Any]:
        assert self.tool is not None
        data = requests.get(self.tool.jwks_url, timeout=5).json()
        return {k["kid"]: jwt.PyJWK(k, algorithm="RS256") for k in data["keys"]}

    def verify_tool_jwt(self, token: str, audience: str) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._tool_keys().get(kid)
            if key is None:
                raise PlatformRefusal("tool key not found in its JWKS", 401)
            claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], audience=audience)
        except jwt.PyJWTError as exc:
            raise PlatformRefusal(f"tool JWT invalid: {exc}", 401) from exc
        return claims

    def token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            raise PlatformRefusal("unsupported_grant_type", 400)
        if (
            form.get("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            raise PlatformRefusal("invalid_client", 401)
        claims = self.verify_tool_jwt(form.get("client_assertion", ""), self.token_url)
        assert self.tool is not None
        if claims.get("iss") != self.tool.client_id or claims.get("sub") != self.tool.client_id:
            raise PlatformRefusal("invalid_client", 401)
        token = secrets.token_urlsafe(16)
        scope = form.get("scope", "")
        with self._lock:
            self.access_tokens[token] = scope
        return self._json(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": scope}
        )

    def _require_token(self, request: Request, scope: str, *alternatives: str) -> None:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        granted = self.access_tokens.get(token)
        if granted is None or not {scope, *alternatives} & set(granted.split()):
            raise PlatformRefusal("invalid or insufficient access token", 401)

    def ags(self, request: Request) -> Response:
        path = request.path
        url = self.issuer + path
        if path.endswith("/scores") and request.method == "POST":
            self._require_token(request, AGS_SCOPES[2])
            if not request.content_type or not request.content_type.startswith(
                "application/vnd.ims.lis.v1.score+json"
            ):
                raise PlatformRefusal("wrong content type", 415)
            if self.scores_down is not None:
                raise PlatformRefusal("gradebook unavailable", self.scores_down)
            item = url.removesuffix("/scores")
            if item not in self.lineitems:
                raise PlatformRefusal("no such line item", 404)
            score = json.loads(request.get_data())
            refusal = self.refuse_scores.get(str(score.get("userId")))
            if refusal is not None:
                raise PlatformRefusal("user is not in a graded role of this course", refusal)
            score["lineitem"] = item
            with self._lock:
                self.scores.append(score)
            return Response("", 204)
        if url in self.lineitems:
            self._require_token(request, AGS_SCOPES[0], LINEITEM_READ_SCOPE)
            return self._json(
                self.lineitems[url], content_type="application/vnd.ims.lis.v2.lineitem+json"
            )
        if path.endswith("/lineitems"):
            if request.method == "POST":
                self._require_token(request, AGS_SCOPES[0])
                if self.on_lineitem_create is not None:
                    self.on_lineitem_create()
                item = json.loads(request.get_data())
                item_url = f"{url}/{self._new_lineitem_number()}"
                item["id"] = item_url
                with self._lock:
                    self.lineitems[item_url] = item
                return self._json(
                    item, 201, content_type="application/vnd.ims.lis.v2.lineitem+json"
                )
            self._require_token(request, AGS_SCOPES[0], LINEITEM_READ_SCOPE)
            return self._lineitem_page(request, url)
        return Response("not found", 404)

    def _lineitem_page(self, request: Request, url: str) -> Response:
        """GET lineitems: filtered by resource_link_id, resource_id and tag (AGS 2.0), paged."""
        filters = {"resource_link_id": "resourceLinkId", "resource_id": "resourceId", "tag": "tag"}
        wanted = {
            field: request.args[arg]
            for arg, field in filters.items()
            if arg in request.args and self.lineitems_filtered
        }
        items = [
            i
            for u, i in self.lineitems.items()
            if u.startswith(url + "/") and all(i.get(f) == v for f, v in wanted.items())
        ]
        headers = {}
        if self.lineitems_page_size:
            page = int(request.args.get("page", "1"))
            size = self.lineitems_page_size
            if page * size < len(items):
                query = urlencode({**request.args.to_dict(), "page": str(page + 1)})
                headers["Link"] = f'<{url}?{query}>; rel="next"'
            items = items[(page - 1) * size : page * size]
        response = self._json(
            items, content_type="application/vnd.ims.lis.v2.lineitemcontainer+json"
        )
        response.headers.update(headers)
        return response

    def deep_link_return(self, request: Request) -> Response:
        claims = self.verify_tool_jwt(request.form.get("JWT", ""), self.issuer)
        assert self.tool is not None
        if claims.get("iss") != self.tool.client_id:
            raise PlatformRefusal("deep link response from an unknown client", 401)
        if claims.get(CLAIM + "message_type") != "LtiDeepLinkingResponse":
            raise PlatformRefusal("not a deep linking response", 400)
        with self._lock:
            self.deep_link_responses.append(claims)
        items = claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", [])
        return Response(
            f"<!doctype html><title>Fake LMS</title><p id='placed'>{len(items)} item(s) placed</p>",
            200,
            content_type="text/html; charset=utf-8",
        )

    # -- dynamic registration -------------------------------------------------------------

    def openid_configuration(self) -> dict[str, Any]:
        issuer = self.issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": issuer + "/auth",
            "token_endpoint": issuer + "/token",
            "jwks_uri": issuer + "/jwks.json",
            "registration_endpoint": issuer + "/register",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["id_token"],
            "scopes_supported": ["openid", *AGS_SCOPES, NRPS_SCOPE],
            "subject_types_supported": ["public", "pairwise"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "nonce", "locale"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "fake",
                "version": "1.0",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest"},
                ],
            },
        }

    def registration_url(self, tool_register_url: str) -> str:
        """What the LMS opens when an admin pastes the tool's registration URL."""
        sep = "&" if "?" in tool_register_url else "?"
        return (
            tool_register_url
            + sep
            + urlencode(
                {
                    "openid_configuration": self.openid_configuration_url,
                    "registration_token": self.registration_token,
                }
            )
        )

    def register(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.registration_token}":
            raise PlatformRefusal("registration token invalid", 401)
        body = request.get_json(silent=True) or {}
        tool_conf = body.get("https://purl.imsglobal.org/spec/lti-tool-configuration") or {}
        problems = []
        if body.get("token_endpoint_auth_method") != "private_key_jwt":
            problems.append("token_endpoint_auth_method")
        if "id_token" not in (body.get("response_types") or []):
            problems.append("response_types")
        if not body.get("client_name") or body.get("application_type") != "web":
            problems.append("client_name/application_type")
        target = tool_conf.get("target_link_uri", "")
        if urlsplit(target).netloc != tool_conf.get("domain"):
            problems.append("domain does not match target_link_uri host:port")
        if problems:
            raise PlatformRefusal("invalid tool configuration: " + ", ".join(problems), 400)
        client_id = "client-" + uuid.uuid4().hex[:10]
        deployment_id = str(len(self.registrations) + 1)
        self.tool = ToolRegistration(
            client_id=client_id,
            deployment_id=deployment_id,
            login_url=body["initiate_login_uri"],
            redirect_uris=list(body["redirect_uris"]),
            jwks_url=body["jwks_uri"],
            target_link_uri=target,
        )
        answer = dict(body)
        answer["client_id"] = client_id
        answer["https://purl.imsglobal.org/spec/lti-tool-configuration"] = {
            **tool_conf,
            "deployment_id": deployment_id,
        }
        with self._lock:
            self.registrations.append(answer)
        return self._json(answer)


class PlatformRefusal(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
