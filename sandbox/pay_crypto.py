"""WeChat Pay v3 cryptography as WeChat applies it, for the sandbox and for tests.

Written here from WeChat's published rules, independently of the wechatpayv3
SDK that `common.wechat.pay` uses, so the client is tested against WeChat's
format rather than against itself:

- a merchant request carries `Authorization: WECHATPAY2-SHA256-RSA2048
  mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`, the
  signature being RSA-SHA256 (PKCS#1 v1.5) over
  `METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n` with the merchant key;
- WeChat signs answers and notifications over `TIMESTAMP\\nNONCE\\nBODY\\n`
  with its platform key, in the Wechatpay-* headers;
- a notification's resource is AES-256-GCM sealed with the APIv3 key, the
  12-character nonce and `associated_data` travelling alongside.

`signed_notification` is public so tests can craft genuine, forged (another
key), tampered and stale notifications.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# WeChat refuses requests signed more than five minutes away from its clock.
REQUEST_TOLERANCE_SECONDS = 300
CHINA = timezone(timedelta(hours=8))
_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')
_SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
}


def rfc3339(moment: datetime) -> str:
    """A time as WeChat writes it: RFC 3339 in China time, to the second."""
    return moment.astimezone(CHINA).isoformat(timespec="seconds")


def sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    """RSA-SHA256 (PKCS#1 v1.5), base64: every WeChat Pay v3 signature."""
    signature = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(public_key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True),
            message.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def signed_headers(
    private_key: rsa.RSAPrivateKey, public_key_id: str, body: str, timestamp: int | None = None
) -> dict[str, str]:
    """WeChat's signature headers over an answer's or a notification's body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(16)
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign(private_key, f"{stamp}\n{nonce}\n{body}\n"),
        "Wechatpay-Serial": public_key_id,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


def seal(apiv3_key: str, plaintext: str, associated_data: str) -> dict[str, str]:
    """An `encrypt-resource` (AEAD_AES_256_GCM) as WeChat puts it in notifications."""
    nonce = secrets.token_hex(6)  # 12 characters, used as the 12-byte GCM nonce
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(
        nonce.encode(), plaintext.encode(), associated_data.encode()
    )
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def signed_notification(
    *,
    private_key: rsa.RSAPrivateKey,
    public_key_id: str,
    apiv3_key: str,
    event_type: str,
    resource: dict[str, Any],
    original_type: str,
    timestamp: int | None = None,
) -> tuple[dict[str, str], bytes]:
    """A notification as WeChat sends it: (headers, body), the resource sealed with the
    APIv3 key and the body signed with `private_key` at `timestamp` (default now)."""
    sealed = seal(apiv3_key, json.dumps(resource, ensure_ascii=False), original_type)
    envelope = {
        "id": secrets.token_hex(18),
        "create_time": rfc3339(datetime.now(UTC)),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": _SUMMARIES.get(event_type, event_type),
        "resource": {"original_type": original_type, **sealed},
    }
    body = json.dumps(envelope, ensure_ascii=False)
    headers = signed_headers(private_key, public_key_id, body, timestamp)
    headers["Content-Type"] = "application/json"
    return headers, body.encode()


def authorization_problem(
    *,
    authorization: str,
    method: str,
    path: str,
    body: str,
    public_key: rsa.RSAPublicKey,
    mchid: str,
    serial_no: str,
    now: float | None = None,
) -> str | None:
    """Why a merchant request's Authorization does not hold, or None if it does.

    `path` is the request target as signed: path plus `?query` when there is one.
    """
    scheme, _, rest = authorization.partition(" ")
    fields = dict(_AUTH_FIELD.findall(rest))
    if scheme != SIGNATURE_TYPE:
        return f"the Authorization scheme must be {SIGNATURE_TYPE}"
    missing = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} - set(fields)
    if missing:
        return f"the Authorization lacks {', '.join(sorted(missing))}"
    if fields["mchid"] != mchid:
        return "unknown mchid"
    if fields["serial_no"] != serial_no:
        return "the merchant certificate serial_no is not this merchant's"
    stamp = fields["timestamp"]
    current = time.time() if now is None else now
    if not stamp.isdigit() or abs(current - int(stamp)) > REQUEST_TOLERANCE_SECONDS:
        return "the timestamp is more than five minutes away"
    message = f"{method}\n{path}\n{stamp}\n{fields['nonce_str']}\n{body}\n"
    if not verify(public_key, message, fields["signature"]):
        return "the signature does not verify with the merchant's public key"
    return None
