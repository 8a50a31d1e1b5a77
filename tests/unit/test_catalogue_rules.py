"""The landlord's input rules, without a server: what is kept, cleaned or refused."""

from __future__ import annotations

import pytest
import strawberry

from common.errors import BadUserInput
from common.patch import KEEP, given
from subgraphs.travel import validation
from subgraphs.travel.management import HomestayChanges, _homestay_values
from subgraphs.travel.models import Homestay, RowState


def _field(error: pytest.ExceptionInfo[BadUserInput]) -> str:
    return str(error.value.extensions["field"])


def test_left_out_is_keep_and_null_is_a_value() -> None:
    assert given(strawberry.UNSET) is KEEP
    assert given(None) is None
    assert given("x") == "x"


@pytest.mark.parametrize(
    "title", ["", " \t ", "a" * 65, "a\x00b", "a\nb", "a\u2028b", "\u202eabc", "\ud800"]
)
def test_titles_refused(title: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        validation.clean_title(title)
    assert _field(refused) == "title"


def test_text_is_trimmed_and_descriptions_keep_line_breaks() -> None:
    assert validation.clean_title("  苍山小院 ") == "苍山小院"
    assert validation.clean_homestay_info(" 一\r\n二\t三 ") == "一\n二\t三"
    assert validation.clean_sub_title(None) == ""


def test_tags_are_stored_comma_separated_without_repeats() -> None:
    assert validation.clean_tags([" 海景 ", "可做饭", "海景"]) == "海景,可做饭"
    assert validation.clean_tags(None) == ""
    for tags in (["a,b"], [""], ["长" * 17], [f"t{n}" for n in range(11)]):
        with pytest.raises(BadUserInput) as refused:
            validation.clean_tags(tags)
        assert _field(refused) == "tags"


def _stored(price: int = 30000, market: int = 40000) -> Homestay:
    return Homestay(homestay_price=price, market_homestay_price=market)


def test_one_price_is_compared_with_the_stored_other() -> None:
    with pytest.raises(BadUserInput) as refused:
        _homestay_values(HomestayChanges(homestay_price=40001), _stored())
    assert _field(refused) == "homestayPrice"
    with pytest.raises(BadUserInput) as refused:
        _homestay_values(HomestayChanges(market_homestay_price=29999), _stored())
    assert _field(refused) == "marketHomestayPrice"
    both = _homestay_values(
        HomestayChanges(homestay_price=50000, market_homestay_price=60000), _stored()
    )
    assert both == {"homestay_price": 50000, "market_homestay_price": 60000}


def test_only_given_fields_become_columns() -> None:
    assert _homestay_values(HomestayChanges(), _stored()) == {}
    assert _homestay_values(HomestayChanges(sub_title=None, on_sale=True), _stored()) == {
        "sub_title": "",
        "row_state": RowState.ON_SALE,
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (HomestayChanges(title=None), "title"),
        (HomestayChanges(people_num=None), "peopleNum"),
        (HomestayChanges(row_type=None), "rowType"),
        (HomestayChanges(food_price=None), "foodPrice"),
        (HomestayChanges(homestay_price=0), "homestayPrice"),
        (HomestayChanges(homestay_price=validation.PRICE_MAX + 1), "homestayPrice"),
        (HomestayChanges(food_price=-1), "foodPrice"),
        (HomestayChanges(people_num=51), "peopleNum"),
    ],
)
def test_required_fields_and_bounds(changes: HomestayChanges, field: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        _homestay_values(changes, _stored())
    assert _field(refused) == field
