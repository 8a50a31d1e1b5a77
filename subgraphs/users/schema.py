"""The users subgraph's GraphQL surface (API.md, users section)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Self

import strawberry

from common import ratelimit
from common.auth.permissions import IsAuthenticated
from common.auth.tokens import TokenPair
from common.context import Info
from common.errors import Unauthenticated
from common.loaders import parse_row_id
from common.maybe import MaybeAwaitable, then
from common.schema import build_schema
from common.storage import keys as image_keys
from common.storage.client import ObjectStorage
from common.storage.images import presign_upload
from common.wechat.miniprogram import MiniProgramClient
from subgraphs.users import service
from subgraphs.users.cache import UserRecord, UsersCache
from subgraphs.users.loaders import cached_users_by_id, users_by_id
from subgraphs.users.models import SexCode
from subgraphs.users.models import User as UserRow


@strawberry.enum
class Sex(Enum):
    MALE = "MALE"
    FEMALE = "FEMALE"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def from_code(cls, code: int) -> Sex:
        return cls[SexCode(code).name]

    def to_code(self) -> SexCode:
        return SexCode[self.name]


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    nickname: str
    avatar: str | None
    sex: Sex
    info: str | None
    _mobile: strawberry.Private[str | None]
    # Set where the caller is known to be this user (e.g. the payload of their own login).
    _as_owner: strawberry.Private[bool] = False

    @classmethod
    def from_row(cls, row: UserRow | UserRecord, *, as_owner: bool = False) -> Self:
        return cls(
            id=strawberry.ID(str(row.id)),
            nickname=row.nickname,
            avatar=row.avatar,
            sex=Sex.from_code(row.sex),
            info=row.info,
            _mobile=row.mobile,
            _as_owner=as_owner,
        )

    @strawberry.field(description="The mobile number; only the user themself can see it.")
    async def mobile(self, info: Info) -> str | None:
        if self._as_owner or await info.context.viewer.is_user(int(self.id)):
            return self._mobile
        return None

    @strawberry.federation.field(
        inaccessible=True,
        description="The user's WeChat mini-program openid (the payer of WeChat Pay). "
        "Hidden from the public API; other subgraphs ask for it as the user.",
    )
    async def wx_mini_open_id(self, info: Info) -> str | None:
        if not await info.context.viewer.is_user(int(self.id)):
            return None
        return await service.wx_mini_openid(info.context.resources.db, int(self.id))

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> MaybeAwaitable[Self | None]:
        """Other subgraphs' references (`_entities`): at once from this process's memory
        when it holds the profile (common.maybe), else batched through Redis and the
        database."""
        user_id = parse_row_id(id)
        if user_id is None:
            return None
        cache = info.context.resources.component(UsersCache).users
        found = info.context.loaders.cached_or_load(cache, cached_users_by_id, user_id)
        return then(found, lambda record: cls.from_row(record) if record else None)


@strawberry.type
class AuthPayload:
    access_token: str
    access_expire: int = strawberry.field(description="Unix time the access token expires.")
    refresh_after: int = strawberry.field(description="Unix time from which to refresh.")
    refresh_token: str
    user: User


@strawberry.input
class RegisterInput:
    mobile: str
    password: str
    nickname: str | None = None


@strawberry.input
class LoginInput:
    mobile: str
    password: str


@strawberry.input(description="What wx.login and wx.getUserProfile give the mini-program.")
class WxMiniAuthInput:
    code: str
    iv: str
    encrypted_data: str


@strawberry.input(description="Only the fields given are changed.")
class UpdateProfileInput:
    nickname: str | None = None
    sex: Sex | None = None
    avatar: str | None = None
    info: str | None = None
    avatar_key: str | None = strawberry.field(
        default=None,
        description="An uploaded image's key (createImageUpload with AVATAR): "
        "it becomes the avatar. Not together with `avatar`.",
    )


# The GraphQL enum is the storage module's own (its names are API.md's).
ImagePurpose = image_keys.ImagePurpose
strawberry.enum(ImagePurpose, description="What an uploaded image is for.")


@strawberry.type
class HttpHeader:
    name: str
    value: str


@strawberry.type(description="How to upload one image straight to object storage.")
class ImageUpload:
    image_key: str = strawberry.field(
        description="Attach it once uploaded (avatarKey, bannerKey, coverKey)."
    )
    upload_url: str
    method: str = strawberry.field(description="PUT")
    headers: list[HttpHeader] = strawberry.field(
        description="Send these with the upload, exactly (they are part of its signature)."
    )
    max_bytes: int = strawberry.field(description="Larger images are refused when attached.")
    expires_at: datetime = strawberry.field(description="The upload URL works until then.")


def _auth_payload(pair: TokenPair, user: UserRow) -> AuthPayload:
    return AuthPayload(
        access_token=pair.access_token,
        access_expire=pair.access_expire,
        refresh_after=pair.refresh_after,
        refresh_token=pair.refresh_token,
        user=User.from_row(user, as_owner=True),
    )


@strawberry.type
class Query:
    @strawberry.field(description="The logged-in user; null when anonymous.")
    async def me(self, info: Info) -> User | None:
        user_id = await info.context.viewer.user_id()
        if user_id is None:
            return None
        row = await info.context.loaders.get(users_by_id).load(user_id)
        return User.from_row(row) if row else None


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create an account with a mobile number and a password.")
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        resources = info.context.resources
        limits = service.AccountLimits.from_settings(resources.settings)
        await ratelimit.hit(resources.redis, limits.register, info.context.client_address)
        user = await service.register(
            resources.db, mobile=input.mobile, password=input.password, nickname=input.nickname
        )
        return _auth_payload(await resources.tokens.issue(user.id), user)

    @strawberry.mutation(description="Log in with a mobile number and a password.")
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
        resources = info.context.resources
        user = await service.authenticate(
            resources.db,
            resources.redis,
            service.LoginLimits.from_settings(resources.settings),
            mobile=input.mobile,
            password=input.password,
            client_address=info.context.client_address,
        )
        return _auth_payload(await resources.tokens.issue(user.id), user)

    @strawberry.mutation(description="Log in from the mini-program; the first login registers.")
    async def wx_mini_auth(self, info: Info, input: WxMiniAuthInput) -> AuthPayload:
        resources = info.context.resources
        limits = service.AccountLimits.from_settings(resources.settings)
        await ratelimit.hit(resources.redis, limits.wx_mini_auth, info.context.client_address)
        user = await service.login_with_wechat(
            resources.db,
            resources.component(MiniProgramClient),
            appid=resources.settings.wechat_mini_appid,
            code=input.code,
            encrypted_data=input.encrypted_data,
            iv=input.iv,
        )
        return _auth_payload(await resources.tokens.issue(user.id), user)

    @strawberry.mutation(description="Exchange a refresh token (usable once) for new tokens.")
    async def refresh_token(self, info: Info, refresh_token: str) -> AuthPayload:
        resources = info.context.resources
        limits = service.AccountLimits.from_settings(resources.settings)
        await ratelimit.hit(resources.redis, limits.refresh, info.context.client_address)
        user_id, pair = await resources.tokens.refresh(refresh_token)
        user = await service.get_user(resources.db, user_id)
        if user is None:
            raise Unauthenticated("This account no longer exists.")
        return _auth_payload(pair, user)

    @strawberry.mutation(
        description="Log out everywhere: every token of the user stops working at once.",
        permission_classes=[IsAuthenticated],
    )
    async def logout(self, info: Info) -> bool:
        user_id = await info.context.viewer.require_user_id()
        await info.context.resources.tokens.revoke_all(user_id)
        return True

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> User:
        user_id = await info.context.viewer.require_user_id()
        resources = info.context.resources
        row = await service.update_profile(
            resources.db,
            user_id,
            service.ProfileChanges(
                nickname=input.nickname,
                sex=input.sex.to_code() if input.sex else None,
                avatar=input.avatar,
                info=input.info,
                avatar_key=input.avatar_key,
            ),
            storage=resources.component(ObjectStorage),
        )
        await info.context.resources.component(UsersCache).users_changed(user_id)
        return User.from_row(row, as_owner=True)

    @strawberry.mutation(
        description="Start an image upload: PUT the bytes to `uploadUrl` with `headers`, "
        "then attach `imageKey` (e.g. updateProfile's avatarKey). contentType: "
        "image/jpeg, image/png or image/webp.",
        permission_classes=[IsAuthenticated],
    )
    async def create_image_upload(
        self, info: Info, purpose: ImagePurpose, content_type: str
    ) -> ImageUpload:
        user_id = await info.context.viewer.require_user_id()
        upload = await presign_upload(
            info.context.resources.component(ObjectStorage),
            owner_id=user_id,
            purpose=purpose,
            content_type=content_type,
        )
        return ImageUpload(
            image_key=upload.image_key,
            upload_url=upload.upload_url,
            method=upload.method,
            headers=[HttpHeader(name=name, value=value) for name, value in upload.headers.items()],
            max_bytes=upload.max_bytes,
            expires_at=upload.expires_at,
        )


schema = build_schema("users", query=Query, mutation=Mutation, types=[User])
