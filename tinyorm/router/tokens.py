"""Position tokens: ``set@position|set@t<deadline>`` text, optionally signed.

A router given ``token_secret`` appends ``~`` and an HMAC-SHA256 of the text (URL-safe
base64, 128 bits) to every token it hands out and refuses, with RoutingError, any token
without a valid one: a forged token cannot make reads wait for positions of its choosing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from ..exceptions import RoutingError

_MAX_TOKEN = 4096  # a longer token is not one this router made


def _mac(secret: bytes, text: str) -> str:
    digest = hmac.new(secret, text.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode("ascii").rstrip("=")


def as_secret(secret: str | bytes | None) -> bytes | None:
    if secret is None:
        return None
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes) or not secret:
        raise TypeError("token_secret must be non-empty text or bytes")
    return secret


def sign(secret: bytes | None, text: str) -> str:
    if secret is None or not text:
        return text
    return f"{text}~{_mac(secret, text)}"


def verify(secret: bytes | None, token: object) -> str:
    """The text of ``token``; RoutingError if it is not text or its signature is wrong."""
    if not isinstance(token, str):
        raise RoutingError(f"a position token is text, not {type(token).__name__}")
    if len(token) > _MAX_TOKEN:
        raise RoutingError("position token too long")
    if secret is None:
        return token
    if not token:
        return token
    text, sep, mac = token.rpartition("~")
    if not sep or not hmac.compare_digest(mac, _mac(secret, text)):
        raise RoutingError("position token is not signed by this application (forged or from elsewhere)")
    return text
