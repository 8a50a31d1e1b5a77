"""Production refuses the development defaults that would make it insecure."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from common.settings import Settings

STRONG_JWT_SECRET = "j" * 40
MERCHANT_APIV3_KEY = "m" * 32
INTERNAL_TOKEN = "i" * 40
# Explicit values throughout: the suite's own environment (JWT_SECRET …) must not leak in.
SANDBOX_APIV3_KEY = Settings.model_fields["wechat_pay_apiv3_key"].default


def test_production_needs_its_own_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(env="production", jwt_secret="short", wechat_pay_apiv3_key=MERCHANT_APIV3_KEY)


def test_production_refuses_the_sandbox_apiv3_key() -> None:
    with pytest.raises(ValidationError, match="WECHAT_PAY_APIV3_KEY"):
        Settings(
            env="production", jwt_secret=STRONG_JWT_SECRET, wechat_pay_apiv3_key=SANDBOX_APIV3_KEY
        )


def test_production_with_its_own_secrets_starts() -> None:
    settings = Settings(
        env="production",
        jwt_secret=STRONG_JWT_SECRET,
        wechat_pay_apiv3_key=MERCHANT_APIV3_KEY,
        internal_token=INTERNAL_TOKEN,
    )
    assert settings.is_production


def test_production_refuses_the_development_internal_token() -> None:
    with pytest.raises(ValidationError, match="INTERNAL_TOKEN"):
        Settings(
            env="production",
            jwt_secret=STRONG_JWT_SECRET,
            wechat_pay_apiv3_key=MERCHANT_APIV3_KEY,
            internal_token=Settings.model_fields["internal_token"].default,
        )


def test_wechat_pay_defaults_follow_the_mini_program_and_data_dir() -> None:
    settings = Settings(
        wechat_mini_appid="wx123",
        wechat_api_base="http://sandbox",
        wechat_pay_appid="",
        wechat_pay_api_base="",
        wechat_pay_private_key_path=None,
        wechat_pay_public_key_path=None,
    )
    assert settings.pay_appid == "wx123"
    assert settings.pay_api_base == "http://sandbox"
    assert (
        settings.pay_private_key_path
        == settings.data_dir / "wechatpay" / "merchant_private_key.pem"
    )
    assert (
        settings.pay_public_key_path == settings.data_dir / "wechatpay" / "platform_public_key.pem"
    )
