"""Input rules for user data; each failure names the field and says what is expected."""

from __future__ import annotations

import re

from common.errors import BadUserInput

# Mainland China mobile numbers: 11 digits, 1 then 3-9.
_MOBILE = re.compile(r"1[3-9]\d{9}")
_COUNTRY_PREFIX = re.compile(r"^(\+?86)[\s-]?")
PASSWORD_MIN, PASSWORD_MAX = 8, 128
NICKNAME_MAX = 32
INFO_MAX = 255
AVATAR_MAX = 255


def normalize_mobile(raw: str) -> str:
    """Accept '13800138000', '138 0013 8000' or '+86 13800138000'; return the 11 digits."""
    candidate = _COUNTRY_PREFIX.sub("", raw.strip())
    candidate = re.sub(r"[\s-]", "", candidate)
    if not _MOBILE.fullmatch(candidate):
        raise BadUserInput(
            "Enter a mainland China mobile number (11 digits starting with 1).", field="mobile"
        )
    return candidate


def check_password(password: str) -> str:
    if not password or not password.strip():
        raise BadUserInput("Enter a password.", field="password")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise BadUserInput(
            f"The password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long.",
            field="password",
        )
    return password


def clean_nickname(nickname: str) -> str:
    cleaned = nickname.strip()
    if not cleaned:
        raise BadUserInput("The nickname cannot be empty.", field="nickname")
    if len(cleaned) > NICKNAME_MAX:
        raise BadUserInput(
            f"The nickname can be at most {NICKNAME_MAX} characters.", field="nickname"
        )
    return cleaned


def clean_info(info: str) -> str:
    cleaned = info.strip()
    if len(cleaned) > INFO_MAX:
        raise BadUserInput(f"The introduction can be at most {INFO_MAX} characters.", field="info")
    return cleaned


def clean_avatar(avatar: str) -> str:
    cleaned = avatar.strip()
    if len(cleaned) > AVATAR_MAX or not cleaned.startswith(("https://", "http://")):
        raise BadUserInput("The avatar must be an http(s) URL.", field="avatar")
    return cleaned


def default_nickname(mobile: str) -> str:
    """What a user who gave no nickname is called: the masked mobile, as in the original app."""
    return f"用户{mobile[-4:]}"
