"""State: raw values with proofs, accounts with balances and nonces, organisations."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from gridledger.api.context import ApiContext
from gridledger.api.errors import InvalidRequest
from gridledger.api.render import JSONBytes, decode_stored, finality_view
from gridledger.api.routes.assets import require_account
from gridledger.api.schemas import (
    ERROR_RESPONSES,
    Account,
    AccountPage,
    Organisations,
    StateProofView,
    StateValue,
)
from gridledger.contracts import chain, funds, registry
from gridledger.core.errors import NotFound
from gridledger.node.node import Node

MAX_KEY_BYTES = 1024
MAX_ACCOUNT_PAGE = 1000

StateKey = Annotated[
    str,
    Path(description="State key, e.g. `funds/balance/alice` (see each contract's keys)."),
]
AccountId = Annotated[
    str,
    Path(pattern=registry.ID_RE.pattern, description="Account id: 1-64 of a-z 0-9 . _ -"),
]


def _key(key: str) -> bytes:
    raw = key.encode()
    if not raw or len(raw) > MAX_KEY_BYTES:
        raise InvalidRequest(f"a state key is 1 to {MAX_KEY_BYTES} bytes")
    return raw


def _decoded(value: bytes) -> tuple[object, bool]:
    """The value as JSON when it is JSON (most state is), else ``(None, False)``."""
    try:
        return msgspec.json.decode(value), True
    except msgspec.DecodeError:
        return None, False


ProofHeight = Annotated[
    int | None,
    Query(
        ge=0,
        description="Prove the value as of this height (one the node keeps: every height on "
        "an archive node, the last N on a pruned one); the tip when left out.",
    ),
]


def proof_view(node: Node, key: str, height: int | None = None) -> dict[str, Any]:
    """The value of ``key`` (or its absence) with its proof against the tip header, or as of
    a retained ``height`` against that height's header, and that header with its hash and
    signature (``StateProofView``)."""
    raw_key = _key(key)
    log: dict[str, Any] | None = None
    value: bytes | None
    if node.in_log(raw_key):
        header, value, entry, seal_key, seal, proof = node.prove_log_entry(raw_key, height)
        log = {
            **msgspec.to_builtins(entry),
            "seal_key": seal_key.decode(),
            "seal_hex": seal.hex(),
        }
    else:
        header, value, proof = node.prove_state(raw_key, height)
    blk = node.store.block(header.height)
    if blk is None:
        raise NotFound(f"block {header.height} is not stored")
    decoded = _decoded(value)[0] if value is not None else None
    return {
        "key": key,
        "value_hex": None if value is None else value.hex(),
        "value": decoded,
        "height": header.height,
        "block_hash": blk.hash.hex(),
        "header": decode_stored(blk.header, f"header of block {blk.height}"),
        "signature": blk.signature,
        "proof": proof.to_json(),
        **({} if log is None else {"log": log}),
        **finality_view(node, header.height),
    }


def router(ctx: ApiContext) -> APIRouter:
    node = ctx.node
    r = APIRouter(prefix="/v1", tags=["state"])

    # Declared before the value route: a key ending in "/proof" asks for the proof.
    @r.get(
        "/state/{key:path}/proof",
        response_model=StateProofView,
        responses=ERROR_RESPONSES,
        summary="A state value with its Merkle proof",
    )
    def state_proof(key: StateKey, height: ProofHeight = None) -> Response:
        """The committed value (or its absence) with a proof against the tip header, or as
        of ``height`` against that block's header (``state.height_not_retained`` when the node
        no longer keeps it).

        Check it without a node with :func:`gridledger.sdk.proofs.verify_state_proof`.
        """
        return JSONBytes(proof_view(node, key, height))

    @r.get(
        "/state/{key:path}",
        response_model=StateValue,
        responses=ERROR_RESPONSES,
        summary="A raw state value",
    )
    def state_value(key: StateKey) -> Response:
        """The committed value of ``key``: hex, and decoded when it is JSON."""
        value = node.state.view.get(_key(key))
        if value is None:
            raise NotFound(f"no state at key {key!r}")
        decoded, is_json = _decoded(value)
        return JSONBytes(
            {"key": key, "value_hex": value.hex(), "value": decoded, "json_value": is_json}
        )

    @r.get(
        "/accounts/{account}",
        response_model=Account,
        responses=ERROR_RESPONSES,
        tags=["accounts"],
        summary="An account",
    )
    def get_account(account: AccountId) -> Response:
        """The registry record, settlement balance, last committed nonce and the next nonce."""
        view = node.state.view
        record = require_account(view, account)
        return JSONBytes(
            {
                **msgspec.to_builtins(record),
                "balance": funds.balance_of(view, account),
                "nonce": chain.nonce_of(view, account),
                "next_nonce": node.next_nonce(account),
            }
        )

    @r.get("/accounts", response_model=AccountPage, tags=["accounts"], summary="Accounts")
    def list_accounts(
        org: Annotated[str | None, Query(description="Only this organisation's accounts.")] = None,
        after: Annotated[
            str | None, Query(description="Start after this account id (paging).")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_ACCOUNT_PAGE)] = 100,
    ) -> Response:
        """Registry records in account id order; ``next`` is the ``after`` of the next page."""
        found = registry.list_accounts(node.state.view, after, limit, org=org)
        return JSONBytes({"accounts": found.items, "next": found.next})

    @r.get(
        "/organisations",
        response_model=Organisations,
        tags=["accounts"],
        summary="Organisations",
    )
    def list_organisations() -> Response:
        """Every registered organisation with its roles and node key."""
        return JSONBytes({"organisations": registry.list_organisations(node.state.view).items})

    return r
