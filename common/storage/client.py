"""The object store of uploaded images: one async S3 client per process, from settings.

Any S3-compatible store works (SeaweedFS in development and tests, MinIO in
docker-compose, COS / OSS / S3 in production); only these calls are used:
presigning a PUT (local, no request), HEAD, a ranged GET, PUT, DELETE, a listing
by prefix and HEAD/CREATE bucket. A store that cannot be reached (or refuses our credentials)
is SERVICE_UNAVAILABLE to the client, never a bug.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from common.errors import ServiceUnavailable
from common.settings import Settings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

logger = logging.getLogger("looklook.storage")

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
UNAVAILABLE = "Image storage is unavailable right now; please try again."


@dataclass(frozen=True)
class ObjectStat:
    """What HEAD says about an object."""

    size: int
    content_type: str


def public_base_url(settings: Settings) -> str:
    """Where readers GET objects: S3_PUBLIC_BASE_URL, else the bucket's own address."""
    if settings.s3_public_base_url:
        return settings.s3_public_base_url.rstrip("/")
    endpoint = (settings.s3_upload_endpoint_url or settings.s3_endpoint_url).rstrip("/")
    if not endpoint:  # AWS S3 itself
        return f"https://{settings.s3_bucket}.s3.{settings.s3_region}.amazonaws.com"
    if settings.s3_addressing_style == "virtual":
        parts = urlsplit(endpoint)
        return f"{parts.scheme}://{settings.s3_bucket}.{parts.netloc}"
    return f"{endpoint}/{settings.s3_bucket}"


def _is_missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code", "")) in _MISSING


class ObjectStorage:
    """The bucket of images. The client is made on first use (inside the event loop) and
    kept for the process: `aclose` ends it (a subgraph component)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bucket = settings.s3_bucket
        self.public_base = public_base_url(settings)
        self._stack = AsyncExitStack()
        self._client: S3Client | None = None
        self._presigner: S3Client | None = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> S3Client:
        async with self._lock:
            client = self._client
            if client is None:
                created: S3Client = await self._stack.enter_async_context(
                    self._create(self.settings.s3_endpoint_url)
                )
                client = self._client = created
        return client

    async def _signer(self) -> S3Client:
        """The client that signs upload URLs: for S3_UPLOAD_ENDPOINT_URL when set (it only
        signs, locally; it never connects)."""
        upload_endpoint = self.settings.s3_upload_endpoint_url
        if not upload_endpoint or upload_endpoint == self.settings.s3_endpoint_url:
            return await self._s3()
        async with self._lock:
            signer = self._presigner
            if signer is None:
                created: S3Client = await self._stack.enter_async_context(
                    self._create(upload_endpoint)
                )
                signer = self._presigner = created
        return signer

    def _create(self, endpoint_url: str) -> Any:  # aiobotocore's client context manager
        settings = self.settings
        config = AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": settings.s3_addressing_style},
            connect_timeout=settings.s3_timeout_seconds,
            read_timeout=settings.s3_timeout_seconds,
            retries={"max_attempts": 2, "mode": "standard"},
        )
        return get_session().create_client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=config,
        )

    def public_url(self, key: str) -> str:
        return f"{self.public_base}/{key}"

    async def presign_put(self, key: str, *, content_type: str, expires_in: int) -> str:
        """A URL that lets its holder PUT this one key, with this Content-Type (it is part
        of the signature), until it expires. Computed locally: no request is made."""
        s3 = await self._signer()
        url: str = await s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=expires_in,
        )
        return url

    async def stat(self, key: str) -> ObjectStat | None:
        """Size and type of an object; None when there is none under the key."""
        try:
            head = await (await self._s3()).head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _is_missing(error):
                return None
            raise self._unavailable(error) from error
        except BotoCoreError as error:
            raise self._unavailable(error) from error
        return ObjectStat(size=head["ContentLength"], content_type=head.get("ContentType", ""))

    async def read_prefix(self, key: str, length: int) -> bytes:
        """The first `length` bytes of an object (a ranged GET: the rest is never sent)."""
        try:
            got = await (await self._s3()).get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}"
            )
            async with got["Body"] as body:
                data: bytes = await body.read()
        except ClientError as error:
            if _is_missing(error):
                return b""
            raise self._unavailable(error) from error
        except BotoCoreError as error:
            raise self._unavailable(error) from error
        return data[:length]

    async def put(self, key: str, body: bytes, *, content_type: str) -> None:
        try:
            await (await self._s3()).put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
            )
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable(error) from error

    async def copy(self, source: str, target: str) -> None:
        """A server-side copy inside the bucket (the bytes do not pass through us)."""
        try:
            await (await self._s3()).copy_object(
                Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source}
            )
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable(error) from error

    async def delete(self, key: str) -> None:
        try:
            await (await self._s3()).delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable(error) from error

    async def keys_written_before(self, prefix: str, before: datetime) -> list[str]:
        """Keys under `prefix` whose object was last written before `before` (all pages)."""
        keys: list[str] = []
        try:
            paginator = (await self._s3()).get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                contents = page.get("Contents", [])
                keys.extend(item["Key"] for item in contents if item["LastModified"] < before)
        except (ClientError, BotoCoreError) as error:
            raise self._unavailable(error) from error
        return keys

    async def bucket_exists(self) -> bool:
        """True when the bucket answers; False when it is missing. Unreachable: raises."""
        try:
            await (await self._s3()).head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if _is_missing(error):
                return False
            raise self._unavailable(error) from error
        except BotoCoreError as error:
            raise self._unavailable(error) from error
        return True

    async def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (tests on a store of their own, the seed)."""
        if await self.bucket_exists():
            return
        try:
            await (await self._s3()).create_bucket(Bucket=self.bucket)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise self._unavailable(error) from error

    def _unavailable(self, error: Exception) -> ServiceUnavailable:
        logger.warning("object storage %s: %s", self.settings.s3_endpoint_url or "(AWS)", error)
        return ServiceUnavailable(UNAVAILABLE)

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._client = self._presigner = None
