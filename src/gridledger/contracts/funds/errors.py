"""The refusals of funds, each with a stable code."""

from __future__ import annotations

from gridledger.core.errors import InvalidTransaction


class InvalidAmount(InvalidTransaction):
    code = "funds.invalid_amount"
    default_message = "amounts are positive integers in minor currency units"


class InsufficientBalance(InvalidTransaction):
    code = "funds.insufficient_balance"
    default_message = "the balance is lower than the amount"


class SupplyOverflow(InvalidTransaction):
    code = "funds.supply_overflow"
    default_message = "minting this would take the supply beyond the 64-bit range"


class MemoTooLong(InvalidTransaction):
    code = "funds.memo_too_long"
    default_message = "a memo is at most 256 characters"
