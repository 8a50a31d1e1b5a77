"""In-memory state shared by every sandbox area, held on `app.state.sandbox`.

WeChat's servers remember things between calls (a login code until it is used,
a prepay order until it is paid, an access token until it expires); the
sandbox keeps them here, in one object per app, so each test app starts clean
and areas can see each other's records. A new area adds its store as an
attribute of `SandboxState`. The pay area's key pairs live on disk
(`settings.pay_keys_dir`, shared with the payments subgraph), not here.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from common.settings import Settings
from sandbox.keys import ensure_keys
from sandbox.pay_records import PayState

if TYPE_CHECKING:
    from sandbox.messages import MessageState

# A wx.login code is valid for five minutes, and only once.
LOGIN_CODE_TTL_SECONDS = 5 * 60

Clock = Callable[[], float]


@dataclass(frozen=True)
class LoginGrant:
    """What a wx.login code stands for: the user and the session key of that login."""

    openid: str
    session_key: str
    issued_at: float


class LoginCodes:
    """One-time wx.login codes, as WeChat keeps them between wx.login and code2session.

    WeChat issues a new session key at every login and only the latest one is
    valid for that user afterwards; it is remembered per openid so other areas
    (and tests) can ask which key a user's data is currently encrypted with.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._grants: dict[str, LoginGrant] = {}
        self._session_keys: dict[str, str] = {}

    def issue(self, openid: str, session_key: str) -> str:
        """A fresh code for this login; expired codes are dropped so memory stays bounded."""
        now = self._clock()
        self._session_keys[openid] = session_key
        self._grants = {
            code: grant
            for code, grant in self._grants.items()
            if now - grant.issued_at < LOGIN_CODE_TTL_SECONDS
        }
        code = secrets.token_urlsafe(24)
        self._grants[code] = LoginGrant(openid=openid, session_key=session_key, issued_at=now)
        return code

    def redeem(self, code: str) -> LoginGrant | None:
        """The grant of an unused, unexpired code, consuming it; None otherwise."""
        grant = self._grants.pop(code, None)
        if grant is None or self._clock() - grant.issued_at >= LOGIN_CODE_TTL_SECONDS:
            return None
        return grant

    def session_key_of(self, openid: str) -> str | None:
        """The session key of this user's latest login, or None if they never logged in."""
        return self._session_keys.get(openid)


class SandboxState:
    """Everything the sandbox remembers; `clock` is replaceable so tests can age codes."""

    def __init__(self, settings: Settings, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self.clock: Clock = clock
        self.login_codes = LoginCodes(lambda: self.clock())
        # Imported here: the messages area imports this module for `state_of`.
        from sandbox.messages import MessageState

        self.pay: PayState = PayState(keys=ensure_keys(settings.pay_keys_dir))
        self.messages: MessageState = MessageState(clock=lambda: self.clock())


def state_of(request: Request) -> SandboxState:
    """The state of the app serving this request (set up by `sandbox.app.create_app`)."""
    state = request.app.state.sandbox
    assert isinstance(state, SandboxState)
    return state
