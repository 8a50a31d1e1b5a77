"""The outbox table of each domain that has one, for the relay, the metrics and the CLI."""

from __future__ import annotations

from common.outbox import OutboxMixin
from common.settings import Domain
from subgraphs.orders.models import OutboxMessage as OrdersOutbox
from subgraphs.payments.models import OutboxMessage as PaymentsOutbox

OUTBOXES: dict[Domain, type[OutboxMixin]] = {
    Domain.ORDERS: OrdersOutbox,
    Domain.PAYMENTS: PaymentsOutbox,
}
