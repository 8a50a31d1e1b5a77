"""Images through the router and the real object store (SeaweedFS, or TEST_S3_URL).

The client asks for an upload, PUTs the bytes straight to storage with a plain
HTTP client, then attaches the key; every way of attaching what it should not is
refused with BAD_USER_INPUT and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from common.settings import Settings
from common.storage.client import ObjectStorage
from common.storage.images import purge_unattached_uploads
from tests.support.graphql import GraphQLClient
from tests.support.hosts import homestay_input
from tests.support.images import (
    CREATE_UPLOAD,
    UPDATE_AVATAR,
    create_upload,
    image_bytes,
    put_upload,
    upload_image,
)
from tests.support.users import Account, register

pytestmark = pytest.mark.e2e

ME_AVATAR = "{ me { id avatar } }"


async def _avatar(router: GraphQLClient, account: Account) -> str | None:
    me = (await router.execute(ME_AVATAR, token=account.access_token)).ok()["me"]
    avatar: str | None = me["avatar"]
    return avatar


async def _get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(url)


def _refused_field(result: object, field: str) -> None:
    errors = result.errors  # type: ignore[attr-defined]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"], errors
    assert errors[0]["extensions"]["field"] == field


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "image/webp"])
async def test_upload_then_attach_an_avatar(router: GraphQLClient, content_type: str) -> None:
    account = await register(router)
    before = datetime.now(UTC)
    upload = await create_upload(router, account.access_token, "AVATAR", content_type)
    ext = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}[content_type]
    assert upload["imageKey"].startswith(f"avatar/{account.user_id}/")
    assert upload["imageKey"].endswith(f".{ext}")
    assert upload["method"] == "PUT"
    assert upload["headers"] == [{"name": "Content-Type", "value": content_type}]
    assert upload["maxBytes"] == 2 * 1024 * 1024
    expires = datetime.fromisoformat(upload["expiresAt"])
    assert before < expires <= before + timedelta(seconds=301)

    body = image_bytes(content_type)
    assert (await put_upload(upload, body)).status_code == 200
    attached = await router.execute(
        UPDATE_AVATAR, {"key": upload["imageKey"]}, token=account.access_token
    )
    url = attached.ok()["updateProfile"]["avatar"]
    assert url.endswith(upload["imageKey"])
    assert await _avatar(router, account) == url

    served = await _get(url)  # anonymous: what the mini-program's <image> does
    assert served.status_code == 200
    assert served.content == body
    assert served.headers["content-type"] == content_type


async def test_an_attached_image_cannot_be_replaced_through_its_upload_url(
    router: GraphQLClient,
) -> None:
    """The upload URL outlives the check: bytes PUT again after attaching change nothing."""
    account = await register(router)
    upload = await create_upload(router, account.access_token, "AVATAR", "image/png")
    body = image_bytes("image/png")
    assert (await put_upload(upload, body)).status_code == 200
    attached = await router.execute(
        UPDATE_AVATAR, {"key": upload["imageKey"]}, token=account.access_token
    )
    url = attached.ok()["updateProfile"]["avatar"]
    assert (await put_upload(upload, b"not a picture any more")).status_code == 200
    assert (await _get(url)).content == body


async def test_two_uploads_never_share_a_key(router: GraphQLClient) -> None:
    account = await register(router)
    first = await create_upload(router, account.access_token, "AVATAR", "image/png")
    second = await create_upload(router, account.access_token, "AVATAR", "image/png")
    assert first["imageKey"] != second["imageKey"]


async def test_the_upload_url_holds_only_for_the_declared_type(router: GraphQLClient) -> None:
    """Content-Type is signed into the URL: storage refuses the bytes as anything else, so
    an object is never served as, say, text/html."""
    account = await register(router)
    upload = await create_upload(router, account.access_token, "AVATAR", "image/png")
    refused = await put_upload(upload, image_bytes("image/png"), {"Content-Type": "text/html"})
    assert refused.status_code == 403


async def test_text_declared_as_png_is_refused_and_removed(router: GraphQLClient) -> None:
    account = await register(router)
    upload = await create_upload(router, account.access_token, "AVATAR", "image/png")
    text = b"<html><script>alert(1)</script></html>"
    assert (await put_upload(upload, text)).status_code == 200
    result = await router.execute(
        UPDATE_AVATAR, {"key": upload["imageKey"]}, token=account.access_token
    )
    _refused_field(result, "avatarKey")
    assert await _avatar(router, account) is None
    # The refused object is gone: a later attach cannot find it either.
    again = await router.execute(
        UPDATE_AVATAR, {"key": upload["imageKey"]}, token=account.access_token
    )
    _refused_field(again, "avatarKey")
    assert "Nothing was uploaded" in again.errors[0]["message"]


async def test_a_jpeg_under_a_png_key_is_refused(router: GraphQLClient) -> None:
    """The bytes must be the declared type, not merely some image."""
    account = await register(router)
    key = await upload_image(router, account.access_token, body=image_bytes("image/jpeg"))
    result = await router.execute(UPDATE_AVATAR, {"key": key}, token=account.access_token)
    _refused_field(result, "avatarKey")


async def test_an_oversized_upload_is_refused(router: GraphQLClient) -> None:
    account = await register(router)
    upload = await create_upload(router, account.access_token, "AVATAR", "image/png")
    png = image_bytes("image/png")
    oversized = png + b"\0" * (upload["maxBytes"] + 1 - len(png))  # a real PNG's first bytes
    assert (await put_upload(upload, oversized)).status_code == 200
    result = await router.execute(
        UPDATE_AVATAR, {"key": upload["imageKey"]}, token=account.access_token
    )
    _refused_field(result, "avatarKey")
    assert "larger than" in result.errors[0]["message"]
    assert await _avatar(router, account) is None


async def test_another_users_key_is_refused_and_left_alone(router: GraphQLClient) -> None:
    owner, thief = await register(router), await register(router)
    key = await upload_image(router, owner.access_token)
    stolen = await router.execute(UPDATE_AVATAR, {"key": key}, token=thief.access_token)
    _refused_field(stolen, "avatarKey")
    assert await _avatar(router, thief) is None
    # The owner's upload was not touched by the refusal.
    mine = await router.execute(UPDATE_AVATAR, {"key": key}, token=owner.access_token)
    assert mine.ok()["updateProfile"]["avatar"].endswith(key)


async def test_a_key_for_another_purpose_is_refused(router: GraphQLClient) -> None:
    account = await register(router)
    key = await upload_image(router, account.access_token, purpose="HOMESTAY_BANNER")
    assert key.startswith(f"banner/{account.user_id}/")
    result = await router.execute(UPDATE_AVATAR, {"key": key}, token=account.access_token)
    _refused_field(result, "avatarKey")


async def test_a_key_never_uploaded_is_refused(router: GraphQLClient) -> None:
    account = await register(router)
    upload = await create_upload(router, account.access_token, "AVATAR", "image/webp")
    result = await router.execute(
        UPDATE_AVATAR, {"key": upload["imageKey"]}, token=account.access_token
    )
    _refused_field(result, "avatarKey")


@pytest.mark.parametrize(
    "forged",
    [
        "avatar/{me}/../{other}/{token}.png",
        "/avatar/{me}/{token}.png",
        "avatar/{me}/{token}.png/../../avatar/{other}/{token}.png",
        "avatar/{me}/{token}.svg",
        "AVATAR/{me}/{token}.png",
        "avatar/0{me}/{token}.png",
        "avatar/{me}/{token}.png\n",
        "not a key",
    ],
)
async def test_forged_keys_are_refused(router: GraphQLClient, forged: str) -> None:
    account, other = await register(router), await register(router)
    key = await upload_image(router, other.access_token)
    token = key.rsplit("/", 1)[1].split(".")[0]
    raw = forged.format(me=account.user_id, other=other.user_id, token=token)
    result = await router.execute(UPDATE_AVATAR, {"key": raw}, token=account.access_token)
    _refused_field(result, "avatarKey")
    assert await _avatar(router, account) is None


@pytest.mark.parametrize("content_type", ["image/gif", "image/svg+xml", "text/plain", ""])
async def test_a_bad_content_type_is_refused(router: GraphQLClient, content_type: str) -> None:
    account = await register(router)
    result = await router.execute(
        CREATE_UPLOAD,
        {"purpose": "AVATAR", "contentType": content_type},
        token=account.access_token,
    )
    _refused_field(result, "contentType")


async def test_avatar_and_avatar_key_together_are_refused(router: GraphQLClient) -> None:
    account = await register(router)
    key = await upload_image(router, account.access_token)
    result = await router.execute(
        "mutation($key: String!) { updateProfile(input: {avatarKey: $key, "
        'avatar: "https://example.com/a.png"}) { avatar } }',
        {"key": key},
        token=account.access_token,
    )
    _refused_field(result, "avatarKey")


async def test_anonymous_uploads_are_refused(router: GraphQLClient) -> None:
    result = await router.execute(CREATE_UPLOAD, {"purpose": "AVATAR", "contentType": "image/png"})
    assert result.codes == ["UNAUTHENTICATED"]


# ----------------------------------------------------------- landlords: cover and banner

BUSINESS = """mutation($input: HomestayBusinessInput!) {
  openHomestayBusiness(input: $input) { id cover } }"""
UPDATE_BUSINESS = """mutation($input: UpdateHomestayBusinessInput!) {
  updateHomestayBusiness(input: $input) { id cover } }"""
CREATE_HOMESTAY = (
    """mutation($input: HomestayInput!) { createHomestay(input: $input) { id banner } }"""
)
UPDATE_HOMESTAY = """mutation($id: ID!, $input: UpdateHomestayInput!) {
  updateHomestay(id: $id, input: $input) { id banner title } }"""
HOMESTAY = "query($id: ID!) { homestay(id: $id) { banner business { cover } } }"


async def _served(url: str) -> bytes:
    served = await _get(url)
    assert served.status_code == 200
    return served.content


async def test_a_landlord_attaches_a_cover_and_a_banner(router: GraphQLClient) -> None:
    landlord = await register(router)
    token = landlord.access_token
    cover_key = await upload_image(router, token, "BUSINESS_COVER", "image/jpeg")
    business = (
        await router.execute(
            BUSINESS, {"input": {"title": "洱海边", "coverKey": cover_key}}, token=token
        )
    ).ok()["openHomestayBusiness"]
    assert business["cover"].endswith(cover_key)
    assert await _served(business["cover"]) == image_bytes("image/jpeg")

    banner = image_bytes("image/webp", (120, 80))
    banner_key = await upload_image(router, token, "HOMESTAY_BANNER", "image/webp", banner)
    created = (
        await router.execute(
            CREATE_HOMESTAY, {"input": homestay_input(bannerKey=banner_key)}, token=token
        )
    ).ok()["createHomestay"]
    assert created["banner"].endswith(banner_key)
    assert await _served(created["banner"]) == banner

    newer_key = await upload_image(router, token, "HOMESTAY_BANNER", "image/png")
    changed = await router.execute(
        UPDATE_HOMESTAY, {"id": created["id"], "input": {"bannerKey": newer_key}}, token=token
    )
    assert changed.ok()["updateHomestay"]["banner"].endswith(newer_key)
    seen = (await router.execute(HOMESTAY, {"id": created["id"]})).ok()["homestay"]
    assert seen["banner"].endswith(newer_key)  # every reader, at once
    assert seen["business"]["cover"] == business["cover"]

    # Left out: the banner stays; null: it is removed.
    kept = await router.execute(
        UPDATE_HOMESTAY, {"id": created["id"], "input": {"title": "新名字"}}, token=token
    )
    assert kept.ok()["updateHomestay"]["banner"].endswith(newer_key)
    removed = await router.execute(
        UPDATE_HOMESTAY, {"id": created["id"], "input": {"bannerKey": None}}, token=token
    )
    assert removed.ok()["updateHomestay"]["banner"] is None

    new_cover = await upload_image(router, token, "BUSINESS_COVER", "image/png")
    updated = await router.execute(UPDATE_BUSINESS, {"input": {"coverKey": new_cover}}, token=token)
    assert updated.ok()["updateHomestayBusiness"]["cover"].endswith(new_cover)


async def test_a_landlord_cannot_attach_what_is_not_their_own_image(
    router: GraphQLClient,
) -> None:
    landlord, other = await register(router), await register(router)
    token = landlord.access_token
    await router.execute(BUSINESS, {"input": {"title": "山里"}}, token=token)
    homestay = (
        await router.execute(CREATE_HOMESTAY, {"input": homestay_input()}, token=token)
    ).ok()["createHomestay"]

    avatar_key = await upload_image(router, token, "AVATAR")
    others_banner = await upload_image(router, other.access_token, "HOMESTAY_BANNER")
    text_banner = await upload_image(
        router, token, "HOMESTAY_BANNER", "image/png", b"just some text, not a picture"
    )
    for key in (avatar_key, others_banner, text_banner, f"banner/{landlord.user_id}/../x.png"):
        refused = await router.execute(
            UPDATE_HOMESTAY,
            {"id": homestay["id"], "input": {"bannerKey": key, "title": "改了"}},
            token=token,
        )
        _refused_field(refused, "bannerKey")
    new = await router.execute(
        CREATE_HOMESTAY, {"input": homestay_input(bannerKey=others_banner)}, token=token
    )
    _refused_field(new, "bannerKey")
    cover = await router.execute(UPDATE_BUSINESS, {"input": {"coverKey": avatar_key}}, token=token)
    _refused_field(cover, "coverKey")
    # Nothing was written by any refusal.
    seen = (await router.execute(HOMESTAY, {"id": homestay["id"]})).ok()["homestay"]
    assert seen == {"banner": None, "business": {"cover": None}}
    title = await router.execute(
        "query($id: ID!) { homestay(id: $id) { title } }", {"id": homestay["id"]}
    )
    assert title.ok()["homestay"]["title"] == homestay_input()["title"]


async def test_uploads_never_attached_are_purged_and_attached_images_stay(
    router: GraphQLClient, settings: Settings
) -> None:
    """The scheduler's purge deletes uploads older than the retention that were never
    attached; attached images, recent uploads and objects that are not uploads stay."""
    account = await register(router)
    token = account.access_token
    kept_key = await upload_image(router, token, "AVATAR")
    attached = await router.execute(UPDATE_AVATAR, {"key": kept_key}, token=token)
    kept_url = attached.ok()["updateProfile"]["avatar"]
    abandoned = await create_upload(router, token, "AVATAR", "image/png")
    assert (await put_upload(abandoned, image_bytes("image/png"))).status_code == 200
    storage = ObjectStorage(settings)
    foreign = f"avatar/{account.user_id}/notes.txt"  # not an upload key: an operator's file
    try:
        await storage.put(foreign, b"keep me", content_type="text/plain")

        recent = await purge_unattached_uploads(
            storage, uploaded_before=datetime.now(UTC) - timedelta(hours=1)
        )
        assert recent == 0
        assert await storage.stat(abandoned["imageKey"]) is not None

        purged = await purge_unattached_uploads(
            storage, uploaded_before=datetime.now(UTC) + timedelta(minutes=1)
        )

        assert purged >= 1
        assert await storage.stat(abandoned["imageKey"]) is None
        assert await storage.stat(foreign) is not None
    finally:
        await storage.delete(foreign)
        await storage.aclose()
    late = await router.execute(UPDATE_AVATAR, {"key": abandoned["imageKey"]}, token=token)
    _refused_field(late, "avatarKey")
    assert (await _get(kept_url)).status_code == 200
    assert await _avatar(router, account) == kept_url
