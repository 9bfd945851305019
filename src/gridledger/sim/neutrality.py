"""The demo community's carbon story: its plants earn carbon credits for last month's
generation, and the community claims its shared facilities carbon neutral for that month.

After the market's window has run (so the certificate keeper's cursors are past the month, and
it never certifies energy that earns credits), at the scenario's last time:

* the carbon month is the last whole UTC month that ended before the local month of the
  window's start began (:func:`carbon_month`: credits and claims count UTC months, pages
  count the community's local months, and the two never share an hour); the grid company's
  gateway imports that month's hourly readings of the :data:`PROJECT_PLANTS` largest plants
  (simulated like the window's, same weather seed) and of the community hall's meter
  ``m-hall`` (:func:`hall_load_wh`: lifts, corridor and garden lighting, water pumps and the
  hall's air conditioning);
* each of those plants' owners registers it as a credit project (``CDM ACM0002``); the
  verifier (organisation ``auditors``) verifies the month's reductions and issues the credits;
* the owners offer them on the exchange at :data:`CREDIT_PRICE_FEN` a tonne and the community
  association (``community``) buys them all in one order; it retires what the hall's residual
  emissions need and makes claim ``hall-YYYY-MM`` (ISO 14068-1) for the hall
  and shared facilities; the verifier gives its statement.

Figures come from the ledger: the residual emissions the credits must cover are computed with
the claims contract's own inventory rule before retiring, so exactly enough is retired.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from gridledger.contracts import claims, credits
from gridledger.core.types import Receipt
from gridledger.sim.pv import generation_wh
from gridledger.sim.site import Site
from gridledger.state.state import StateReader

Action = tuple[str, str, Mapping[str, Any]]
Run = Callable[[int, list[Action]], list[Receipt]]

COMMUNITY = "community"
"""The community association's organisation and account: it owns the hall and claims."""
VERIFIER = "verifier"
"""The carbon verifier's account (organisation ``auditors``)."""
AUDITORS = "auditors"
HALL = "hall"
HALL_METER = "m-hall"
HALL_MAX_WH_PER_HOUR = 20_000
PROJECT_PLANTS = 4
"""Plants registered as credit projects: the largest (more would lengthen the demo)."""
HOUR_S = 3600
BATCH = 5000


CREDIT_PRICE_FEN = 6_000
"""The price the demo's credits trade at, fen a tonne (60 CNY, about what China's voluntary
credits fetch)."""


def organisations(keys: Mapping[str, str]) -> list[Action]:
    """The verifier's and the community association's organisations and accounts (``keys``:
    account -> public key), for the operator to register at setup."""
    return [
        ("operator", "registry.add_organisation",
         {"org": AUDITORS, "name": "Shenzhen carbon verification centre",
          "roles": ["carbon_verifier"]}),
        ("operator", "registry.add_account",
         {"account": VERIFIER, "org": AUDITORS, "public_key": keys[VERIFIER],
          "roles": ["carbon_verifier"]}),
        ("operator", "registry.add_organisation",
         {"org": COMMUNITY, "name": "Shekou community association", "roles": ["consumer"]}),
        ("operator", "registry.add_account",
         {"account": COMMUNITY, "org": COMMUNITY, "public_key": keys[COMMUNITY],
          "roles": ["consumer"]}),
    ]  # fmt: skip


def carbon_month(window_start_s: int, site: Site) -> tuple[int, int]:
    """``(start, end)`` of the last whole UTC month that ended at or before the first second of
    ``site``'s local month holding ``window_start_s``: a UTC month ends eight hours into the
    next month in Shanghai, and those hours must not fall into the window's local month,
    which the demo's carbon summary counts."""
    local = site.local(window_start_s)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    at = month_start.astimezone(dt.UTC)
    end = dt.datetime(at.year, at.month, 1, tzinfo=dt.UTC)
    start = dt.datetime(end.year - (end.month == 1), (end.month - 2) % 12 + 1, 1, tzinfo=dt.UTC)
    return int(start.timestamp()), int(end.timestamp())


def hall_load_wh(start_s: int, hours: int, site: Site) -> list[int]:
    """The hall and shared facilities' hourly consumption: a 0.6 kW base (pumps, lifts on
    standby, network), 0.8 kW more from 18:00 to 23:00 local (lighting), 1.2 kW more from 09:00
    to 21:00 local (the hall open, air conditioning), deterministic."""
    out = []
    for i in range(hours):
        hour = site.local(start_s + i * HOUR_S).hour
        wh = 600 + (800 if 18 <= hour < 23 else 0) + (1200 if 9 <= hour < 21 else 0)
        out.append(wh + (i * 37) % 200)
    return out


def _batches(readings: list[dict[str, Any]]) -> list[list[Action]]:
    return [
        [("gw-shekou", "metering.submit", {"readings": readings[i : i + BATCH]})]
        for i in range(0, len(readings), BATCH)
    ]


def tell(run: Run, view: Callable[[], StateReader], plants: list[Any], site: Site,
         window_start_s: int, at_s: int, weather_seed: int) -> dict[str, Any]:  # fmt: skip
    """Run the story (see the module docstring) at scenario time ``at_s``; what it did."""
    start, end = carbon_month(window_start_s, site)
    hours = (end - start) // HOUR_S
    days = hours // 24
    chosen = sorted(plants, key=lambda p: (-p.pv.capacity_w, p.device))[:PROJECT_PLANTS]
    run(at_s, [
        (COMMUNITY, "registry.register_site",
         {"site": HALL, "name": "Community hall and shared facilities, Shekou", "country": "CN",
          "grid_region": "CN-GD", "max_wh_per_hour": HALL_MAX_WH_PER_HOUR}),
        ("grid", "registry.register_meter",
         {"meter": HALL_METER, "kind": "consumption", "site": HALL, "gateway": "gw-shekou",
          "interval_s": HOUR_S}),
    ])  # fmt: skip
    readings = [
        {"meter": HALL_METER, "start": start + i * HOUR_S, "length_s": HOUR_S, "energy_wh": wh}
        for i, wh in enumerate(hall_load_wh(start, hours, site))
    ]
    for p in chosen:
        series = generation_wh(p.pv, site, start, days, weather_seed=weather_seed)
        readings += [
            {"meter": p.meter, "start": start + i * HOUR_S, "length_s": HOUR_S, "energy_wh": wh}
            for i, wh in enumerate(series)
        ]
    for batch in _batches(readings):
        run(at_s, batch)
    month = dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y-%m")
    run(at_s, [
        (p.owner, "credits.register_project",
         {"id": p.device, "name": f"Rooftop PV {p.device}, Shekou", "device": p.device,
          "methodology": "CDM ACM0002",
          "baseline": "grid electricity at the CN-GD grid-average emission factor",
          "monitoring_plan": f"hourly revenue meter {p.meter}, read by gw-shekou"})
        for p in chosen
    ])  # fmt: skip
    run(at_s, [
        (VERIFIER, "credits.verify_period",
         {"project": p.device, "id": month, "start_s": start, "end_s": end,
          "note": "metered generation checked against the inverter logs"})
        for p in chosen
    ])  # fmt: skip
    issued = [p for p in chosen if credits.periods_of(view(), p.device)[0].verified_t > 0]
    run(at_s, [(VERIFIER, "credits.issue", {"project": p.device, "period": month})
               for p in issued])  # fmt: skip
    # the owners offer their credits on the exchange and the association buys them all in
    # one order (it is paid for by the association's members: minted here for the demo)
    offers: list[Action] = []
    for p in issued:
        project = credits.require_project(view(), p.device)
        held = sum(b.quantity_t for b in credits.held_by(view(), p.owner))
        if held > 0:
            instrument = f"credits:{project.technology}:{month[:4]}"
            offers.append((p.owner, "exchange.place", {
                "instrument": instrument, "side": "sell", "price_fen_per_t": CREDIT_PRICE_FEN,
                "quantity_t": held}))  # fmt: skip
    for instrument in sorted({o[2]["instrument"] for o in offers}):
        tonnes = sum(o[2]["quantity_t"] for o in offers if o[2]["instrument"] == instrument)
        run(at_s, [o for o in offers if o[2]["instrument"] == instrument])
        run(at_s, [("operator", "funds.mint",
                    {"to": COMMUNITY, "amount": tonnes * CREDIT_PRICE_FEN})])  # fmt: skip
        run(at_s, [(COMMUNITY, "exchange.place", {
            "instrument": instrument, "side": "buy", "price_fen_per_t": CREDIT_PRICE_FEN,
            "quantity_t": tonnes, "time_in_force": "ioc"})])  # fmt: skip
    inventory = claims.inventory.claim_inventory(
        view(), COMMUNITY, [(HALL, "CN-GD")], start, end, 0
    )
    residual = inventory.scope1_g + inventory.scope2_market_g
    need = max(1, -(-residual // 1_000_000))
    retire: list[Action] = []
    for block in credits.held_by(view(), COMMUNITY):
        if need <= 0:
            break
        take = min(need, block.quantity_t)
        retire.append((COMMUNITY, "credits.retire", {
            "serial": block.serial(), "quantity_t": take, "beneficiary": COMMUNITY,
            "reason": f"community hall carbon neutral in {month}",
            "claim_start_s": start, "claim_end_s": end}))  # fmt: skip
        need -= take
    if need > 0:
        return {"month": month, "claim": None, "projects": [p.device for p in chosen],
                "note": "the plants earned too few credits to cover the hall"}  # fmt: skip
    run(at_s, retire)
    numbers = [r.id for r in credits.list_retirements(view(), beneficiary=COMMUNITY)]
    claim_id = f"hall-{month}"
    run(at_s, [(COMMUNITY, "claims.make", {
        "id": claim_id,
        "subject": {"type": "site", "id": HALL,
                    "name": "Community hall and shared facilities, Shekou"},
        "boundary": "electricity used by the community hall, lifts, corridor and garden "
                    "lighting and water pumps (scope 2; no fuel is burnt on site)",
        "start_s": start, "end_s": end,
        "baseline_ref": "2024 energy audit of the shared facilities, SCA-EA-2024",
        "baseline_g": residual * 13 // 10,
        "plan_ref": "SCA-CNMP-2025: LED retrofit, pump scheduling, rooftop PV purchase",
        "retirements": numbers,
    })])  # fmt: skip
    run(at_s, [(VERIFIER, "claims.verify", {
        "claim": claim_id, "opinion": "reasonable",
        "statement": f"SCVC-{month}-017: the hall's {month} claim is fairly stated"})])  # fmt: skip
    made = claims.require_claim(view(), claim_id)
    return {
        "month": month,
        "projects": [p.device for p in chosen],
        "credits_issued_t": sum(credits.require_project(view(), p.device).issued_t for p in chosen),
        "claim": claim_id,
        "residual_g": made.residual_g,
        "retired_t": made.retired_t,
        "retirements": numbers,
        "status": made.status,
    }
