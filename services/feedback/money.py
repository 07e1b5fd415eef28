"""Money done right: every amount keeps its currency, and reports convert to one reporting
currency with the configured rates, saying which they used. Amounts in different currencies
are never added as they stand. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from services.feedback.errors import MissingExchangeRate

# Reports are in this currency unless `BATON_REPORTING_CURRENCY` says otherwise.
DEFAULT_CURRENCY = "EUR"


@dataclass(frozen=True)
class Fx:
    """The reporting currency and, per other currency, how many units of the reporting
    currency one unit is worth (`BATON_FX_RATES`, e.g. {"USD": "0.92"} when reporting in EUR)."""

    reporting: str
    rates: Mapping[str, Decimal] = field(default_factory=dict)

    def rate(self, currency: str | None) -> Decimal:
        # Amounts recorded before currencies travelled with them are in the reporting currency.
        if currency is None or currency == self.reporting:
            return Decimal(1)
        rate = self.rates.get(currency)
        if rate is None:
            raise MissingExchangeRate(
                f"an amount is in {currency} but no rate to {self.reporting} is configured: "
                f"add {currency} to BATON_FX_RATES (units of {self.reporting} per {currency})",
                currency=currency,
                reporting_currency=self.reporting,
            )
        return rate

    def convert(self, amount: Decimal, currency: str | None) -> Decimal:
        return amount * self.rate(currency)

    def used(self, currencies: Iterable[str | None]) -> dict[str, Decimal]:
        """The rates a report applied, by currency (the reporting currency at 1)."""
        return {c or self.reporting: self.rate(c) for c in sorted({c or self.reporting for c in currencies})}
