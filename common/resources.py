"""What a subgraph process holds for its lifetime: settings, database, Redis, components."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis

from common.auth.tokens import TokenService, TokenVersions
from common.auth.versions import UsersServiceVersions
from common.db import Database
from common.redis import process_redis
from common.settings import Domain, Settings

T = TypeVar("T")


class AsyncClosable(Protocol):
    async def aclose(self) -> None: ...


# Builds a domain's own long-lived parts (API clients, caches) once the shared ones exist.
ComponentFactory = Callable[["Resources"], Sequence[AsyncClosable]]
# Where token versions come from on a cache miss: the users subgraph gives its database,
# the others default to asking the users subgraph.
TokenVersionsFactory = Callable[[Database], TokenVersions]


@dataclass
class Resources:
    settings: Settings
    db: Database
    redis: Redis
    tokens: TokenService
    components: dict[type[Any], AsyncClosable] = field(default_factory=dict)

    @classmethod
    def open(
        cls,
        domain: Domain,
        settings: Settings,
        components: ComponentFactory | None,
        token_versions: TokenVersionsFactory | None = None,
    ) -> Resources:
        redis = process_redis(settings)
        db = Database(
            settings.database_url(domain),
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
        )
        versions = token_versions(db) if token_versions else UsersServiceVersions(settings)
        resources = cls(
            settings=settings,
            db=db,
            redis=redis,
            tokens=TokenService(
                redis,
                versions,
                secret=settings.jwt_secret,
                issuer=settings.jwt_issuer,
                access_ttl=settings.access_token_ttl,
                refresh_ttl=settings.refresh_token_ttl,
                version_cache_seconds=settings.token_version_cache_seconds,
            ),
        )
        if isinstance(versions, UsersServiceVersions):
            resources.components[UsersServiceVersions] = versions
        for component in components(resources) if components else ():
            resources.components[type(component)] = component
        return resources

    def component(self, kind: type[T]) -> T:
        """The process's component of a given class (registered by the subgraph's app)."""
        component = self.components[kind]
        assert isinstance(component, kind)
        return component

    async def close(self) -> None:
        for component in self.components.values():
            await component.aclose()
        await self.redis.aclose()
        await self.db.dispose()
