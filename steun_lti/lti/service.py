"""Per-app services of the LTI layer: the pseudonym key, the JWKS cache, sealing of AGS subjects."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import Flask, current_app

from steun_lti.lti.http import AddressPolicy
from steun_lti.lti.jwks import JwksCache
from steun_lti.plumbing.secrets import load_or_create_secret
from steun_lti.plumbing.settings import Settings

EXTENSION = "steun.lti"


class LtiServices:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hmac_key = (
            settings.hmac_key.get_secret_value()
            if settings.hmac_key
            else load_or_create_secret(settings.data_dir, "hmac_key")
        )
        seal_secret = load_or_create_secret(settings.data_dir, "lti_seal_key")
        self._fernet = Fernet(
            base64.urlsafe_b64encode(hashlib.sha256(seal_secret.encode()).digest())
        )
        # Every request made for a platform (key set, token, AGS) goes only where this allows.
        self.address_policy = AddressPolicy.from_settings(settings)
        self.jwks_cache = JwksCache(policy=self.address_policy)

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def unseal(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None


def init_services(app: Flask, settings: Settings) -> LtiServices:
    services = LtiServices(settings)
    app.extensions[EXTENSION] = services
    return services


def services() -> LtiServices:
    found: LtiServices = current_app.extensions[EXTENSION]
    return found
