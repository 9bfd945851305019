"""The exchange on the client side: place and cancel limit orders (``exchange.*``
transactions) and read the ``/v1/exchange`` endpoints (``docs/api.md``, "Exchange"; the rules
in ``docs/credits.md``, "Trading").

``Client.exchange`` is an :class:`Exchange`::

    with Client(url) as client:
        client.exchange.place(key, "power-co", instrument="allowances:ets-2024", side="buy",
                              price_fen_per_t=6_000, quantity_t=100)
        print(client.exchange.book("allowances:ets-2024"))

Every transaction method signs with ``key`` as ``sender``, submits, waits for the receipt and
returns the :class:`~gridledger.sdk.client.Committed` result (``ok`` False with the
contract's code when it committed but failed, e.g. ``exchange.insufficient_funds``). Bodies are
checked against the kind's stateless rules first, so a bad one raises
:class:`~gridledger.sdk.errors.InvalidInput` with the code the node would answer with.
Prices are fen per tonne, quantities whole tonnes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gridledger.sdk.contract import ContractClient, contract_kinds

if TYPE_CHECKING:
    from gridledger.core.crypto import SigningKey
    from gridledger.sdk.client import Committed

EXCHANGE_KINDS = contract_kinds("exchange")


class Exchange(ContractClient):
    """The exchange's endpoints and transactions of one node, through ``client``."""

    kinds = EXCHANGE_KINDS
    path = ("v1", "exchange")

    # reads ---------------------------------------------------------------------------------
    def instruments(self) -> dict[str, Any]:
        """``{"instruments": [...]}``: every instrument that has had an order, by id."""
        return self._get("instruments")

    def book(self, instrument: str, levels: int | None = None) -> dict[str, Any]:
        """``{"instrument", "bids", "asks", "last_price_fen_per_t", "volume_t", "trades"}``:
        the book by price level, best first."""
        return self._get("book", instrument, levels=levels)

    def orders(self, account: str, status: str | None = None) -> dict[str, Any]:
        """``{"orders": [...]}``: the orders ``account`` placed (in ``status``), oldest first."""
        return self._get("orders", account=account, status=status)

    def order(self, n: int) -> dict[str, Any]:
        """One order by its number."""
        return self._get("orders", n)

    def trades(self, instrument: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """``{"instrument", "last_price_fen_per_t", "volume_t", "trades": [...]}``, newest
        first."""
        return self._get("trades", instrument=instrument, limit=limit)

    # transactions --------------------------------------------------------------------------
    def place(
        self,
        key: SigningKey,
        sender: str,
        *,
        instrument: str,
        side: str,
        price_fen_per_t: int,
        quantity_t: int,
        time_in_force: str | None = None,
        expires_s: int | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Place a limit order; it trades at once with what it crosses, the rest rests (gtc)
        or is cancelled (ioc)."""
        body = {
            "instrument": instrument,
            "side": side,
            "price_fen_per_t": price_fen_per_t,
            "quantity_t": quantity_t,
            "time_in_force": time_in_force,
            "expires_s": expires_s,
        }
        return self.send(key, sender, "exchange.place", body, wait)

    def cancel(self, key: SigningKey, sender: str, *, order: int, wait: float = 10.0) -> Committed:
        """Cancel an open order of the sender's; what it locks is given back."""
        return self.send(key, sender, "exchange.cancel", {"order": order}, wait)
