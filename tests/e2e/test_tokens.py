"""Bad tokens are refused through the router with UNAUTHENTICATED, never ignored."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from tests.conftest import TEST_JWT_SECRET
from tests.support.graphql import GraphQLClient
from tests.support.users import ME, register

pytestmark = pytest.mark.e2e


def _claims(user_id: str, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": user_id, "iss": "looklook", "iat": now, "exp": now + 600,
        "typ": "access", "ver": 0, "jti": "test",
    }  # fmt: skip
    claims.update(overrides)
    return claims


def _b64(part: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


async def test_valid_forged_shape_token_is_accepted(router: GraphQLClient) -> None:
    """Control: a correctly signed token works, so the refusals below mean something."""
    account = await register(router)
    token = jwt.encode(_claims(account.user_id), TEST_JWT_SECRET, algorithm="HS256")
    assert (await router.execute(ME, token=token)).ok()["me"]["id"] == account.user_id


@pytest.mark.parametrize(
    "kind",
    ["tampered", "expired", "alg-none", "wrong-secret", "refresh-as-access", "missing-sub",
     "hs512", "garbage", "wrong-issuer"],
)  # fmt: skip
async def test_bad_token_is_refused(router: GraphQLClient, kind: str) -> None:
    account = await register(router)
    uid = account.user_id
    if kind == "tampered":
        header, payload, signature = account.access_token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["sub"] = str(int(uid) + 1)
        token = f"{header}.{_b64(claims)}.{signature}"
    elif kind == "expired":
        token = jwt.encode(_claims(uid, iat=1, exp=2), TEST_JWT_SECRET, algorithm="HS256")
    elif kind == "alg-none":
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(uid))}."
    elif kind == "wrong-secret":
        token = jwt.encode(
            _claims(uid), "another-secret-of-sufficient-length-123456", algorithm="HS256"
        )
    elif kind == "refresh-as-access":
        token = account.refresh_token
    elif kind == "missing-sub":
        claims = _claims(uid)
        del claims["sub"]
        token = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
    elif kind == "hs512":
        token = jwt.encode(_claims(uid), TEST_JWT_SECRET, algorithm="HS512")
    elif kind == "wrong-issuer":
        token = jwt.encode(_claims(uid, iss="someone-else"), TEST_JWT_SECRET, algorithm="HS256")
    else:
        token = "not-a-jwt"
    result = await router.execute(ME, token=token)
    assert result.codes == ["UNAUTHENTICATED"], result
    assert result.data in (None, {"me": None})


async def test_revoked_token_is_refused(router: GraphQLClient) -> None:
    account = await register(router)
    other_session = await register(router)
    assert (await router.execute("mutation { logout }", token=account.access_token)).ok()
    assert (await router.execute(ME, token=account.access_token)).codes == ["UNAUTHENTICATED"]
    # Logging out one user leaves everyone else logged in.
    assert (await router.execute(ME, token=other_session.access_token)).ok()["me"]


async def test_non_bearer_authorization_is_refused(router: GraphQLClient) -> None:
    result = await router.execute(ME, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert result.codes == ["UNAUTHENTICATED"]
