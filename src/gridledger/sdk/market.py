"""The clean-power market on the client side: sign and submit ``market.*`` transactions and read
the market's endpoints (``docs/api.md``, "Market").

``Client.market`` is a :class:`Market` for that client::

    from gridledger.sdk import Client

    with Client(url) as client:
        client.market.place_bid(key, "ann", interval=1795334400, site="flat-3",
                                quantity_wh=3000, price=80, preferred=["pv-1"])
        book = client.market.book(1795334400)          # bids and offers, best first
        for pairing in client.market.iter_account_pairings("ann"):
            print(pairing["interval_start_s"], pairing["energy_wh"], pairing["delivered_wh"])

Every transaction method signs with ``key`` as ``sender``, submits, waits for the receipt and
returns the :class:`~gridledger.sdk.client.Committed` result (``ok`` False with the contract's
code when it committed but failed, e.g. ``market.interval_closed``). Bodies are checked against
the kind's stateless rules first, so a quantity of 0 or a price out of range raises
:class:`~gridledger.sdk.errors.InvalidInput` with the code the node would answer with.
Energy is in Wh, prices in fen (the currency's minor unit) per kWh, money in fen, times in
Unix seconds (UTC); the answers' field names say so (``energy_wh``, ``price_fen_per_kwh``,
``amount_fen``, ``start_s``). Transaction bodies keep their own names (``quantity_wh``,
``price``, ``interval``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gridledger.sdk.contract import ContractClient, checked_body, contract_kinds

if TYPE_CHECKING:
    from gridledger.core.crypto import SigningKey
    from gridledger.sdk.client import Committed

MARKET_KINDS = contract_kinds("market")
"""Every market transaction kind."""


def market_body(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` for the market transaction ``kind``, without its None values, after the kind's
    stateless checks (what the node checks at admission before any state).

    Raises:
        InvalidInput: not a market kind, or a body the node would refuse, with its code
            (``tx.invalid_body``, ``market.invalid_price``, ...).
    """
    return checked_body(MARKET_KINDS, kind, body)


class Market(ContractClient):
    """The market endpoints and transactions of one node, through ``client``."""

    kinds = MARKET_KINDS
    path = ("v1", "market")

    # reads ---------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """``{"interval_s", "mechanism", "gate_closure_s", "horizon_s", "data_deadline_s"}``."""
        return self._get("params")

    def tariffs(self) -> dict[str, Any]:
        """``{"grid_account", "sell_price_fen_per_kwh", "feed_in_price_fen_per_kwh",
        "height"}``.

        Raises:
            ApiError: ``not_found`` before a grid operator has set them.
        """
        return self._get("tariffs")

    def intervals(
        self, start: int | None = None, end: int | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """A page of interval records with ``start <= interval < end``, oldest first:
        ``{"intervals": [...], "next": start or None}``."""
        return self._get("intervals", **{"from": start, "to": end, "limit": limit})

    def iter_intervals(
        self, start: int | None = None, end: int | None = None, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Every interval record in the window, page after page."""
        while True:
            page = self.intervals(start, end, page_size)
            yield from page["intervals"]
            if page["next"] is None:
                return
            start = int(page["next"])

    def book(self, start: int, depth: int = 100) -> dict[str, Any]:
        """The order book of the interval starting at ``start``: ``{"interval": record,
        "bids": [...], "offers": [...], "bid_count", "offer_count"}``, best first, at most
        ``depth`` orders per side. An interval without orders is open and empty."""
        return self._get("intervals", int(start), depth=depth)

    def pairings(self, start: int, after: str | None = None, limit: int = 1000) -> dict[str, Any]:
        """A page of the interval's pairings in clearing order: ``{"interval", "status",
        "pairings": [...], "next": pairing id or None}`` (pass ``next`` as ``after``)."""
        return self._get("intervals", int(start), "pairings", after=after, limit=limit)

    def iter_pairings(self, start: int, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every pairing of the interval, page after page."""
        after = None
        while True:
            page = self.pairings(start, after, page_size)
            yield from page["pairings"]
            if page["next"] is None:
                return
            after = str(page["next"])

    def grid(self, start: int) -> dict[str, Any]:
        """The interval's grid settlements: ``{"interval", "status", "settlements": [{"asset",
        "account", "direction", "energy_wh", "measured_wh", "amount_fen", "unpaid_fen"}]}``
        (empty until settled)."""
        return self._get("intervals", int(start), "grid")

    def account_pairings(
        self, account: str, start: int | None = None, end: int | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """A page of ``account``'s pairings as consumer or producer, oldest interval first:
        ``{"account", "pairings": [...], "next": start or None}``."""
        params = {"from": start, "to": end, "limit": limit}
        return self._get("accounts", account, "pairings", **params)

    def iter_account_pairings(
        self, account: str, start: int | None = None, end: int | None = None, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Every pairing of ``account`` in the window, page after page."""
        while True:
            page = self.account_pairings(account, start, end, page_size)
            yield from page["pairings"]
            if page["next"] is None:
                return
            start = int(page["next"])

    def stats(self, account: str) -> dict[str, Any]:
        """``account``'s settled totals (Wh, fen) with ``clean_share_permille`` and
        ``clean_share`` (a decimal string); zeros before its first settlement."""
        return self._get("accounts", account, "stats")

    def preferences(self, account: str) -> list[dict[str, Any]]:
        """``account``'s standing choices per site."""
        found: list[dict[str, Any]] = self._get("accounts", account, "preferences")["preferences"]
        return found

    def arrears(self, account: str) -> dict[str, Any]:
        """What ``account`` owes after settlements: ``{"account", "arrears": [{"creditor",
        "amount_fen"}], "total_fen"}``."""
        return self._get("accounts", account, "arrears")

    def plant(self, device: str) -> dict[str, Any]:
        """A device's settled totals and its ``buyers`` (``{"consumer", "delivered_wh",
        "amount_fen"}``)."""
        return self._get("plants", device)

    def standing_offers(self) -> list[dict[str, Any]]:
        """Every plant offered each interval at a floor price."""
        found: list[dict[str, Any]] = self._get("standing-offers")["standing_offers"]
        return found

    # transactions --------------------------------------------------------------------------
    def place_bid(
        self,
        key: SigningKey,
        sender: str,
        *,
        interval: int,
        site: str,
        quantity_wh: int,
        price: int,
        preferred: Iterable[str] = (),
        wait: float = 10.0,
    ) -> Committed:
        """Bid for ``quantity_wh`` for ``site`` in the interval starting at ``interval``,
        paying at most ``price`` per kWh (consumer; the bid's cost is escrowed). ``preferred``
        names plants to buy from first (``preferred_first`` mechanism), first choice first."""
        body = {
            "interval": interval,
            "site": site,
            "quantity_wh": quantity_wh,
            "price": price,
            "preferred": list(preferred),
        }
        return self.send(key, sender, "market.place_bid", body, wait)

    def place_offer(
        self,
        key: SigningKey,
        sender: str,
        *,
        interval: int,
        device: str,
        quantity_wh: int,
        price: int,
        wait: float = 10.0,
    ) -> Committed:
        """Offer ``quantity_wh`` of ``device``'s output in the interval for at least ``price``
        per kWh (producer)."""
        body = {"interval": interval, "device": device, "quantity_wh": quantity_wh, "price": price}
        return self.send(key, sender, "market.place_offer", body, wait)

    def cancel_order(
        self, key: SigningKey, sender: str, *, interval: int, order: int, wait: float = 10.0
    ) -> Committed:
        """Withdraw order number ``order`` before gate closure; a bid's escrow returns."""
        body = {"interval": interval, "order": order}
        return self.send(key, sender, "market.cancel_order", body, wait)

    def set_preference(
        self,
        key: SigningKey,
        sender: str,
        *,
        site: str,
        choice: str,
        price_cap: int | None = None,
        preferred: Iterable[str] = (),
        quantity_wh: int | None = None,
        wait: float = 10.0,
    ) -> Committed:
        """Choose ``"clean"`` (a bid for ``site`` at every clearing) or ``"grid"`` (none)
        (consumer). Defaults: the grid's selling price as cap, the site's ceiling as quantity."""
        body = {
            "site": site,
            "choice": choice,
            "price_cap": price_cap,
            "preferred": list(preferred),
            "quantity_wh": quantity_wh,
        }
        return self.send(key, sender, "market.set_preference", body, wait)

    def set_standing_offer(
        self,
        key: SigningKey,
        sender: str,
        *,
        device: str,
        floor_price: int,
        quantity_wh: int | None = None,
        active: bool = True,
        wait: float = 10.0,
    ) -> Committed:
        """Offer ``device``'s output at every clearing for at least ``floor_price`` per kWh
        (producer; default quantity: nameplate output); ``active=False`` withdraws it."""
        body = {
            "device": device,
            "floor_price": floor_price,
            "quantity_wh": quantity_wh,
            "active": active,
        }
        return self.send(key, sender, "market.set_standing_offer", body, wait)

    def clear(
        self, key: SigningKey, sender: str, *, interval: int, wait: float = 10.0
    ) -> Committed:
        """Clear the interval (anyone, once its gate closure has passed by block time)."""
        return self.send(key, sender, "market.clear", {"interval": interval}, wait)

    def settle(
        self, key: SigningKey, sender: str, *, interval: int, wait: float = 10.0
    ) -> Committed:
        """Settle a cleared interval against its meter data (anyone, once it has ended)."""
        return self.send(key, sender, "market.settle", {"interval": interval}, wait)

    def pay_arrears(
        self, key: SigningKey, sender: str, *, creditor: str, wait: float = 10.0
    ) -> Committed:
        """Pay what ``sender`` owes ``creditor``, as far as its balance covers."""
        return self.send(key, sender, "market.pay_arrears", {"creditor": creditor}, wait)

    def set_params(
        self,
        key: SigningKey,
        sender: str,
        *,
        wait: float = 10.0,
        **changes: int | str,
    ) -> Committed:
        """Change some market rules (operator), keeping the others as they are now.

        ``changes`` are among ``interval_s``, ``mechanism``, ``gate_closure_s``,
        ``horizon_s`` and ``data_deadline_s``. The transaction sets all five, so the current
        ones are read first.
        """
        body = {**self.params(), **changes}
        return self.send(key, sender, "market.set_params", body, wait)

    def set_tariffs(
        self,
        key: SigningKey,
        sender: str,
        *,
        sell_price: int,
        feed_in_price: int,
        wait: float = 10.0,
    ) -> Committed:
        """Set what the grid charges and pays per kWh; ``sender`` (a grid operator) becomes
        the grid account that settles imports and exports."""
        body = {"sell_price": sell_price, "feed_in_price": feed_in_price}
        return self.send(key, sender, "market.set_tariffs", body, wait)
