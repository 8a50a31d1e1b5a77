"""Subscribe messages against the sandbox: the message WeChat receives, the access token
shared through Redis (fetched once, refetched once when WeChat refuses it), and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from redis.asyncio import Redis

from common.devrunner import free_port
from common.redis import create_redis
from common.settings import Settings
from common.wechat.messages import TOKEN_KEY, SubscribeMessenger, WeChatMessageError
from common.wechat.miniprogram import WeChatError
from tests.support.sandbox import WeChatSandbox, wechat_sandbox

PAGE = "pages/order/detail?sn=HSO2026112300000012345678"
DATA = {
    "character_string1": "HSO2026112300000012345678",
    "character_string2": "A1B2C3D4",
    "time3": "2026-11-23 10:00",
    "thing4": "支付成功",
}


@pytest.fixture(scope="module")
def sandbox(settings: Settings) -> Iterator[WeChatSandbox]:
    with wechat_sandbox(settings) as running:
        yield running


@pytest.fixture(scope="module")
def message_settings(settings: Settings, sandbox: WeChatSandbox) -> Settings:
    return settings.model_copy(update={"wechat_api_base": sandbox.url})


@pytest.fixture
async def token_key(redis: Redis, message_settings: Settings) -> AsyncIterator[str]:
    """The cached token's Redis key, empty before and after (other suites share Redis)."""
    key = TOKEN_KEY.format(appid=message_settings.wechat_mini_appid)
    await redis.delete(key)
    yield key
    await redis.delete(key)


@pytest.fixture
async def messenger(
    message_settings: Settings, redis: Redis, token_key: str
) -> AsyncIterator[SubscribeMessenger]:
    sender = SubscribeMessenger(message_settings, redis)
    yield sender
    await sender.aclose()


async def _sent_to(sandbox: WeChatSandbox, openid: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{sandbox.url}/sandbox/messages", params={"touser": openid})
    answer.raise_for_status()
    messages: list[dict[str, object]] = answer.json()["messages"]
    return messages


async def test_a_message_reaches_wechat_in_its_shape(
    messenger: SubscribeMessenger, sandbox: WeChatSandbox, message_settings: Settings
) -> None:
    template = message_settings.wechat_subscribe_template_id
    await messenger.send("o-payer-shape", template, PAGE, DATA)

    assert await _sent_to(sandbox, "o-payer-shape") == [
        {
            "touser": "o-payer-shape",
            "template_id": template,
            "page": PAGE,
            "data": {name: {"value": value} for name, value in DATA.items()},
        }
    ]
    assert await _sent_to(sandbox, "o-someone-else") == []


async def test_the_access_token_is_cached_in_redis(
    messenger: SubscribeMessenger,
    sandbox: WeChatSandbox,
    message_settings: Settings,
    redis: Redis,
    token_key: str,
) -> None:
    template = message_settings.wechat_subscribe_template_id
    fetched = sandbox.state.messages.token_requests
    await messenger.send("o-payer-cache", template, PAGE, DATA)
    await messenger.send("o-payer-cache", template, PAGE, DATA)

    assert sandbox.state.messages.token_requests == fetched + 1
    assert len(await _sent_to(sandbox, "o-payer-cache")) == 2
    assert await redis.get(token_key)
    # WeChat's 7200 s, less the safety margin.
    assert 6800 <= await redis.ttl(token_key) <= 6900


async def test_concurrent_sends_fetch_one_token(
    messenger: SubscribeMessenger, sandbox: WeChatSandbox, message_settings: Settings
) -> None:
    template = message_settings.wechat_subscribe_template_id
    fetched = sandbox.state.messages.token_requests
    await asyncio.gather(
        *(messenger.send(f"o-payer-crowd-{i}", template, PAGE, DATA) for i in range(5))
    )

    assert sandbox.state.messages.token_requests == fetched + 1


async def test_an_expired_token_is_dropped_and_fetched_again_once(
    messenger: SubscribeMessenger,
    sandbox: WeChatSandbox,
    message_settings: Settings,
    redis: Redis,
    token_key: str,
) -> None:
    template = message_settings.wechat_subscribe_template_id
    await messenger.send("o-payer-expiry", template, PAGE, DATA)
    first_token = await redis.get(token_key)
    fetched = sandbox.state.messages.token_requests
    async with httpx.AsyncClient() as http:
        (await http.post(f"{sandbox.url}/sandbox/access-tokens/expire")).raise_for_status()

    await messenger.send("o-payer-expiry", template, PAGE, DATA)

    assert sandbox.state.messages.token_requests == fetched + 1
    assert await redis.get(token_key) not in (None, first_token)
    assert len(await _sent_to(sandbox, "o-payer-expiry")) == 2


async def test_a_token_wechat_does_not_know_is_replaced(
    messenger: SubscribeMessenger,
    sandbox: WeChatSandbox,
    message_settings: Settings,
    redis: Redis,
    token_key: str,
) -> None:
    await redis.set(token_key, "a-token-from-another-wechat", ex=600)

    await messenger.send(
        "o-payer-unknown", message_settings.wechat_subscribe_template_id, PAGE, DATA
    )

    assert await redis.get(token_key) != "a-token-from-another-wechat"
    assert len(await _sent_to(sandbox, "o-payer-unknown")) == 1


async def test_refusals_raise_wechat_errors(
    messenger: SubscribeMessenger, message_settings: Settings, redis: Redis, token_key: str
) -> None:
    with pytest.raises(WeChatMessageError) as unknown_template:
        await messenger.send("o-payer-refused", "no-such-template", PAGE, DATA)
    assert unknown_template.value.errcode == 40037

    wrong_secret = SubscribeMessenger(
        message_settings.model_copy(update={"wechat_mini_secret": "not-the-secret"}), redis
    )
    await redis.delete(token_key)
    try:
        with pytest.raises(WeChatMessageError) as refused:
            await wrong_secret.send(
                "o-payer-refused", message_settings.wechat_subscribe_template_id, PAGE, DATA
            )
        assert refused.value.errcode == 40125
        assert isinstance(refused.value, WeChatError)
        assert "not-the-secret" not in str(refused.value)
    finally:
        await wrong_secret.aclose()


async def test_sends_still_work_with_redis_down(
    sandbox: WeChatSandbox, message_settings: Settings
) -> None:
    down = create_redis(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    sender = SubscribeMessenger(message_settings, down)
    fetched = sandbox.state.messages.token_requests
    template = message_settings.wechat_subscribe_template_id
    try:
        await sender.send("o-payer-no-redis", template, PAGE, DATA)
        await sender.send("o-payer-no-redis", template, PAGE, DATA)
    finally:
        await sender.aclose()
        await down.aclose()

    assert len(await _sent_to(sandbox, "o-payer-no-redis")) == 2
    # No cache to share the token through: each send fetched its own.
    assert sandbox.state.messages.token_requests == fetched + 2
