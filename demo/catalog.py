"""The demo data set, assembled from `demo.words` with a fixed random seed.

Pure and deterministic: the same catalog on every machine and every run, so a
bug report about "the third homestay on the home page" means the same row for
everyone. Rows refer to each other by position (a homestay names its
business's index); `demo.seed` turns positions into database ids.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

from demo import words
from demo.words import Destination, RoomKind
from subgraphs.travel.models import RowType
from subgraphs.users.models import SexCode

DEFAULT_SEED = 20_220_801

LANDLORDS = 36
GUESTS = 60
HOMESTAYS = 300
COMMENTS = 3_000
PREFERRED = 40
_MIN_HOMESTAYS_PER_BUSINESS = 3
_MIN_COMMENTS_PER_HOMESTAY = 3
_PREFERRED_POOL = 100  # the preferred list is drawn from this many best-rated homestays

# Demo accounts live in number blocks of their own, far from anything tests generate.
LANDLORD_MOBILE_PREFIX = "1760000"
GUEST_MOBILE_PREFIX = "1770000"

_IMAGES = "https://picsum.photos/seed/looklook"  # stable placeholder image per seed string


@dataclass(frozen=True)
class PersonSpec:
    """A user account: a landlord or a guest who writes comments."""

    mobile: str
    nickname: str
    sex: SexCode
    avatar: str
    info: str | None


@dataclass(frozen=True)
class BusinessSpec:
    landlord: int  # index into Catalog.landlords
    title: str
    info: str
    boss_info: str
    tags: str
    cover: str
    header_img: str
    license_front: str
    license_back: str
    star: float


@dataclass(frozen=True)
class HomestaySpec:
    business: int  # index into Catalog.businesses; the landlord is the business's
    title: str
    sub_title: str
    banner: str
    info: str
    people_num: int
    row_type: RowType
    food_info: str
    food_price: int  # fen, per person per day
    homestay_price: int  # fen, per night (per room, or per person when row_type says so)
    market_homestay_price: int  # fen


@dataclass(frozen=True)
class CommentSpec:
    homestay: int  # index into Catalog.homestays
    guest: int  # index into Catalog.guests
    content: str
    star: float
    age_minutes: int  # written this long before the seed runs; never grows along the tuple


@dataclass(frozen=True)
class Catalog:
    landlords: tuple[PersonSpec, ...]
    guests: tuple[PersonSpec, ...]
    businesses: tuple[BusinessSpec, ...]
    homestays: tuple[HomestaySpec, ...]
    comments: tuple[CommentSpec, ...]
    preferred: tuple[int, ...]  # homestay indexes, in the order the 为你优选 list shows them


def _image(name: str, size: str) -> str:
    return f"{_IMAGES}-{name}/{size}"


def _listed_price(yuan: int) -> int:
    """A price in fen ending in 8 yuan (398, 1288), as listed prices usually do."""
    return (yuan // 10 * 10 + 8) * 100


def _split(total: int, parts: int, minimum: int, rng: random.Random) -> list[int]:
    """`total` spread over `parts`, each at least `minimum`, some much more popular than others."""
    counts = [minimum] * parts
    popularity = [rng.uniform(0.2, 3.0) for _ in range(parts)]
    for chosen in rng.choices(range(parts), weights=popularity, k=total - minimum * parts):
        counts[chosen] += 1
    return counts


def _landlord_nickname(rng: random.Random, taken: set[str]) -> tuple[str, SexCode]:
    while True:
        sex = rng.choice((SexCode.MALE, SexCode.FEMALE))
        patterns = words.LANDLORD_MALE_NAMES if sex == SexCode.MALE else words.LANDLORD_FEMALE_NAMES
        nickname = rng.choice(patterns).format(s=rng.choice(words.SURNAMES))
        if nickname not in taken:
            taken.add(nickname)
            return nickname, sex


def _guests(rng: random.Random) -> tuple[PersonSpec, ...]:
    names = [p + n for p in words.GUEST_PREFIXES for n in words.GUEST_NOUNS]
    sexes = (SexCode.MALE, SexCode.FEMALE, SexCode.UNKNOWN)
    return tuple(
        PersonSpec(
            mobile=f"{GUEST_MOBILE_PREFIX}{number:04d}",
            nickname=name,
            sex=rng.choice(sexes),
            avatar=_image(f"guest-{number}", "200/200"),
            info=None,
        )
        for number, name in enumerate(rng.sample(names, GUESTS), start=1)
    )


def _place(destination: Destination, area: str) -> str:
    """'大理古城' alone, but '大理双廊': the city only when the area does not already say it."""
    return area if area.startswith(destination.city) else f"{destination.city}{area}"


def _boss_info(destination: Destination, kind: str, rng: random.Random) -> str:
    origin = rng.choice(words.LANDLORD_ORIGINS)
    if origin == "本地":
        return (
            f"土生土长的{destination.city}人，{rng.choice(words.LANDLORD_HOBBIES)}，"
            f"把老家的房子改成了这家{kind}。"
        )
    return (
        f"{origin}人，{rng.choice(words.LANDLORD_PASTS)}，{rng.randint(3, 12)}年前来到"
        f"{destination.city}开了这家{kind}，{rng.choice(words.LANDLORD_HOBBIES)}。"
    )


@dataclass(frozen=True)
class _Shop:
    """A business before its star is known (the star is the mean of its comments)."""

    landlord: int
    destination: Destination
    title: str
    kind: str
    info: str
    boss_info: str
    tags: str


def _shops(
    landlords: Sequence[PersonSpec], rng: random.Random
) -> tuple[list[_Shop], list[PersonSpec]]:
    """One business per landlord, spread over every destination; returns landlords with info."""
    places = list(words.DESTINATIONS) * (len(landlords) // len(words.DESTINATIONS) + 1)
    rng.shuffle(places)
    names = rng.sample(words.BUSINESS_NAMES, len(landlords))
    shops, described = [], []
    for index, (landlord, destination, name) in enumerate(
        zip(landlords, places, names, strict=False)
    ):
        kind = rng.choice(words.BUSINESS_KINDS)
        area = rng.choice(destination.areas)
        title = f"{name}{kind}"
        light = rng.choice(words.LIGHT_LINES).format(view=rng.choice(destination.views))
        shops.append(
            _Shop(
                landlord=index,
                destination=destination,
                title=title,
                kind=kind,
                info=f"位于{_place(destination, area)}，共有{rng.randint(4, 16)}间客房，{light}。",
                boss_info=_boss_info(destination, kind, rng),
                tags=",".join(rng.sample(words.BUSINESS_TAGS, rng.randint(3, 4))),
            )
        )
        described.append(
            PersonSpec(
                mobile=landlord.mobile,
                nickname=landlord.nickname,
                sex=landlord.sex,
                avatar=landlord.avatar,
                info=f"{destination.city}·{title}的主人",
            )
        )
    return shops, described


def _landlords(rng: random.Random) -> list[PersonSpec]:
    taken: set[str] = set()
    landlords = []
    for number in range(1, LANDLORDS + 1):
        nickname, sex = _landlord_nickname(rng, taken)
        landlords.append(
            PersonSpec(
                mobile=f"{LANDLORD_MOBILE_PREFIX}{number:04d}",
                nickname=nickname,
                sex=sex,
                avatar=_image(f"landlord-{number}", "200/200"),
                info=None,
            )
        )
    return landlords


def _title(
    destination: Destination, kind: RoomKind, area: str, rng: random.Random, taken: set[str]
) -> tuple[str, str]:
    """A title no other homestay has, and the decoration style it names."""
    while True:
        style = rng.choice(destination.styles + words.GENERIC_STYLES)
        title = rng.choice(words.TITLE_PATTERNS).format(
            area=area,
            view=rng.choice(destination.views),
            style=style,
            room=kind.name,
            perk=rng.choice(words.TITLE_PERKS),
        )
        if title not in taken:
            taken.add(title)
            return title, style


def _beds(kind: RoomKind, people: int, rng: random.Random) -> str:
    if kind.per_person:
        return f"最多可住{people}人，按人计价"
    if people >= 6:
        return f"共{(people + 1) // 2}间卧室，可住{people}人"
    if kind.name == "双床房":
        return "两张1.2米单人床"
    if people > 2:
        return "1.8米大床加1.2米儿童床"
    return rng.choice(("1.8米大床", "2米大床"))


def _homestay(
    shop: _Shop, business: int, number: int, rng: random.Random, taken: set[str]
) -> HomestaySpec:
    place = shop.destination
    kind = rng.choices(words.ROOM_KINDS, weights=[k.weight for k in words.ROOM_KINDS])[0]
    people = rng.randint(*kind.people)
    area = rng.choice(place.areas)
    fill = {
        "area": rng.choice([a for a in place.areas if a != area]),  # a landmark nearby
        "view": rng.choice(place.views),
        "minutes": rng.choice((3, 5, 8, 10, 15)),
        "activity": rng.choice(place.activities),
    }
    title, style = _title(place, kind, area, rng, taken)
    info = (
        f"房子位于{_place(place, area)}，{rng.choice(words.LOCATION_LINES).format(**fill)}。"
        f"{style}装修，{rng.choice(words.LIGHT_LINES).format(**fill)}，{_beds(kind, people, rng)}。"
        f"房间配有{'、'.join(rng.sample(words.FACILITIES, 3))}。"
        f"{rng.choice(words.HOST_LINES).format(**fill)}。"
    )
    plan, low, high = words.FOOD_PLANS[-1] if kind.per_person else rng.choice(words.FOOD_PLANS)
    foods = "、".join(rng.sample(place.foods, 2))
    price_yuan = rng.randint(*kind.price_yuan)
    price = _listed_price(price_yuan)
    return HomestaySpec(
        business=business,
        title=title,
        sub_title="｜".join(p.format(**fill) for p in rng.sample(words.SELLING_POINTS, 3)),
        banner=",".join(
            _image(f"homestay-{number}-{k}", "750/500") for k in range(1, rng.randint(3, 5) + 1)
        ),
        info=info,
        people_num=people,
        row_type=RowType.PER_PERSON if kind.per_person else RowType.PER_ROOM,
        food_info=f"{plan}：{foods}等本地风味，按人按天计费",
        food_price=rng.randrange(low, high + 1, 500),
        homestay_price=price,
        market_homestay_price=max(
            _listed_price(int(price_yuan * rng.uniform(1.15, 1.5))), price + 2000
        ),
    )


def _comment_text(star: float, fill: dict[str, str], rng: random.Random) -> str:
    opener = rng.choice(words.COMMENT_OPENERS)
    if star >= 4:
        praise = "，".join(p.format(**fill) for p in rng.sample(words.COMMENT_PRAISE, 2))
        return f"{opener}{praise}。{rng.choice(words.COMMENT_CLOSINGS_GOOD)}"
    if star >= 3:
        praise = rng.choice(words.COMMENT_PRAISE).format(**fill)
        gripe = rng.choice(words.COMMENT_GRIPES)
        return f"{opener}{praise}，就是{gripe}。{rng.choice(words.COMMENT_CLOSINGS_MIXED)}"
    complaint = rng.choice(words.COMMENT_COMPLAINTS)
    gripe = rng.choice(words.COMMENT_GRIPES)
    return f"{opener}{complaint}，而且{gripe}。{rng.choice(words.COMMENT_CLOSINGS_BAD)}"


def _comments(
    homestay_shops: Sequence[_Shop], landlords: Sequence[PersonSpec], rng: random.Random
) -> tuple[CommentSpec, ...]:
    """Comments over the past year, oldest first, so a newer comment gets a larger id."""
    per_homestay = _split(COMMENTS, len(homestay_shops), _MIN_COMMENTS_PER_HOMESTAY, rng)
    drafts = []
    for homestay, count in enumerate(per_homestay):
        shop = homestay_shops[homestay]
        for _ in range(count):
            star = rng.choices(words.STARS, weights=words.STAR_WEIGHTS)[0]
            fill = {
                "view": rng.choice(shop.destination.views),
                "area": rng.choice(shop.destination.areas),
                "food": rng.choice(shop.destination.foods),
                "activity": rng.choice(shop.destination.activities),
                "host": landlords[shop.landlord].nickname,
            }
            drafts.append(
                CommentSpec(
                    homestay=homestay,
                    guest=rng.randrange(GUESTS),
                    content=_comment_text(star, fill, rng),
                    star=star,
                    age_minutes=rng.randint(60, 365 * 24 * 60),
                )
            )
    return tuple(sorted(drafts, key=lambda c: (-c.age_minutes, c.homestay)))


def _ratings(comments: Sequence[CommentSpec], homestays: int) -> list[float]:
    stars: list[list[float]] = [[] for _ in range(homestays)]
    for comment in comments:
        stars[comment.homestay].append(comment.star)
    return [fmean(s) if s else 0.0 for s in stars]


def build_catalog(seed: int = DEFAULT_SEED) -> Catalog:
    """The whole demo data set; the same `seed` always gives the same catalog."""
    rng = random.Random(seed)  # noqa: S311 - demo data wants repeatability, not secrecy
    shops, landlords = _shops(_landlords(rng), rng)
    guests = _guests(rng)
    homestays: list[HomestaySpec] = []
    homestay_shops: list[_Shop] = []
    titles: set[str] = set()
    per_business = _split(HOMESTAYS, len(shops), _MIN_HOMESTAYS_PER_BUSINESS, rng)
    for business, (shop, count) in enumerate(zip(shops, per_business, strict=True)):
        for _ in range(count):
            homestays.append(_homestay(shop, business, len(homestays) + 1, rng, titles))
            homestay_shops.append(shop)
    comments = _comments(homestay_shops, landlords, rng)
    ratings = _ratings(comments, len(homestays))
    best = sorted(range(len(homestays)), key=lambda h: (-ratings[h], h))[:_PREFERRED_POOL]
    businesses = []
    for index, shop in enumerate(shops):
        own = [ratings[h] for h, stay in enumerate(homestays) if stay.business == index]
        businesses.append(
            BusinessSpec(
                landlord=shop.landlord,
                title=shop.title,
                info=shop.info,
                boss_info=shop.boss_info,
                tags=shop.tags,
                cover=_image(f"business-{index + 1}-cover", "750/420"),
                header_img=_image(f"business-{index + 1}-header", "200/200"),
                license_front=_image(f"business-{index + 1}-license-front", "600/400"),
                license_back=_image(f"business-{index + 1}-license-back", "600/400"),
                star=round(fmean(own), 1),
            )
        )
    return Catalog(
        landlords=tuple(landlords),
        guests=guests,
        businesses=tuple(businesses),
        homestays=tuple(homestays),
        comments=comments,
        preferred=tuple(rng.sample(best, PREFERRED)),
    )
