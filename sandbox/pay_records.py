"""What the WeChat Pay sandbox remembers: JSAPI orders, refunds, notification attempts.

Each record renders itself the way WeChat's answers and notifications show it,
so the routes in `sandbox.pay` only decide what happens, not how it looks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.keys import SandboxKeys
from sandbox.pay_crypto import rfc3339
from sandbox.pay_notify import Delivery, Notifier

_TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "订单已关闭",
    "REFUND": "转入退款",
}


@dataclass
class SandboxTransaction:
    """A JSAPI order from prepay on: NOTPAY → SUCCESS (paid) → REFUND, or → CLOSED."""

    out_trade_no: str
    prepay_id: str
    appid: str
    mchid: str
    description: str
    total: int
    payer_openid: str
    notify_url: str
    expires_at: datetime | None
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: datetime | None = None
    refunded: int = 0
    # False: WeChat's REFUND.* notifications for this order are lost (POST
    # /sandbox/pay/refund-notifications), so only a refund query learns the outcome.
    notify_refunds: bool = True

    def settle_expiry(self) -> None:
        """An unpaid order past its time_expire is closed, as WeChat closes it."""
        if (
            self.trade_state == "NOTPAY"
            and self.expires_at is not None
            and datetime.now(UTC) > self.expires_at
        ):
            self.trade_state = "CLOSED"

    def body(self) -> dict[str, Any]:
        """The order as WeChat's query answer and TRANSACTION.* notification show it."""
        data: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "trade_type": "JSAPI",
            "trade_state": self.trade_state,
            "trade_state_desc": _TRADE_STATE_DESC.get(self.trade_state, self.trade_state),
            "payer": {"openid": self.payer_openid},
            "amount": {"total": self.total, "currency": "CNY"},
        }
        if self.transaction_id is not None:
            data["transaction_id"] = self.transaction_id
            data["bank_type"] = "OTHERS"
            data["amount"].update(payer_total=self.total, payer_currency="CNY")
        if self.success_time is not None:
            data["success_time"] = rfc3339(self.success_time)
        return data


@dataclass
class SandboxRefund:
    """A refund: PROCESSING, then SUCCESS a moment later."""

    out_refund_no: str
    refund_id: str
    transaction: SandboxTransaction
    amount: int
    reason: str
    notify_url: str
    status: str = "PROCESSING"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    success_time: datetime | None = None

    def amounts(self) -> dict[str, Any]:
        return {
            "total": self.transaction.total,
            "refund": self.amount,
            "payer_total": self.transaction.total,
            "payer_refund": self.amount,
            "currency": "CNY",
        }

    def body(self) -> dict[str, Any]:
        """The refund as WeChat's refund answer and refund query show it."""
        data: dict[str, Any] = {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction.transaction_id,
            "out_trade_no": self.transaction.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": rfc3339(self.created),
            "status": self.status,
            "amount": self.amounts(),
        }
        if self.success_time is not None:
            data["success_time"] = rfc3339(self.success_time)
        return data

    def notification(self) -> dict[str, Any]:
        """The decrypted resource of a REFUND.* notification (`refund_status`, not `status`)."""
        data: dict[str, Any] = {
            "mchid": self.transaction.mchid,
            "out_trade_no": self.transaction.out_trade_no,
            "transaction_id": self.transaction.transaction_id,
            "out_refund_no": self.out_refund_no,
            "refund_id": self.refund_id,
            "refund_status": self.status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": self.transaction.total,
                "refund": self.amount,
                "payer_total": self.transaction.total,
                "payer_refund": self.amount,
            },
        }
        if self.success_time is not None:
            data["success_time"] = rfc3339(self.success_time)
        return data


@dataclass
class PayState:
    """What WeChat Pay remembers: orders (by out_trade_no and prepay_id), refunds, and
    every notification attempt (`notifier.deliveries`)."""

    keys: SandboxKeys
    notifier: Notifier = field(default_factory=Notifier)
    transactions: dict[str, SandboxTransaction] = field(default_factory=dict)
    by_prepay_id: dict[str, SandboxTransaction] = field(default_factory=dict)
    refunds: dict[str, SandboxRefund] = field(default_factory=dict)
    # How refunds end (SUCCESS; CLOSED or ABNORMAL to play a refund stuck at WeChat).
    refund_outcome: str = "SUCCESS"
    # An outage of the merchant API (POST /sandbox/pay/outage), and the calls it refused.
    outage: bool = False
    refused: list[str] = field(default_factory=list)

    @property
    def deliveries(self) -> list[Delivery]:
        return self.notifier.deliveries
