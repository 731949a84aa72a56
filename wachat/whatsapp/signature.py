"""Meta signs each webhook body with the app secret: X-Hub-Signature-256: sha256=<hex>.

https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads
"""

import hashlib
import hmac


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid(body: bytes, header: str | None, secret: str) -> bool:
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(body, secret), header.strip())
