"""Claims' refusals, each with a stable ``claims.*`` code."""

from __future__ import annotations

from gridledger.core.errors import InvalidTransaction


class InvalidClaim(InvalidTransaction):
    code = "claims.invalid_claim"
    default_message = (
        "a claim names its boundary, baseline, management plan and 1-100 distinct retirements"
    )


class InvalidSubject(InvalidTransaction):
    code = "claims.invalid_subject"
    default_message = (
        "a subject is the claimant organisation, one of its sites, or a product or event "
        "with the organisation's sites it covers"
    )


class UnknownSite(InvalidTransaction):
    code = "claims.unknown_site"
    default_message = "no registered site has this id"


class ForeignSite(InvalidTransaction):
    code = "claims.foreign_site"
    default_message = "a claim covers sites of the claimant's own organisation only"


class BadPeriod(InvalidTransaction):
    code = "claims.bad_period"
    default_message = "a claim period is 1-12 whole months (UTC), start before end"


class PeriodOpen(InvalidTransaction):
    code = "claims.period_open"
    default_message = "the claim period has not ended by block time"


class ClaimExists(InvalidTransaction):
    code = "claims.claim_exists"
    default_message = "a claim with this id was made already"


class UnknownClaim(InvalidTransaction):
    code = "claims.unknown_claim"
    default_message = "no claim has this id"


class UnknownRetirement(InvalidTransaction):
    code = "claims.unknown_retirement"
    default_message = "no credit retirement has this number"


class RetirementUsed(InvalidTransaction):
    code = "claims.retirement_used"
    default_message = "the retirement counts for another claim already"


class WrongBeneficiary(InvalidTransaction):
    code = "claims.wrong_beneficiary"
    default_message = "a retirement counts for a claim only if its beneficiary is the claimant"


class ComplianceRetirement(InvalidTransaction):
    code = "claims.compliance_retirement"
    default_message = "credits surrendered for an emissions trading obligation count for no claim"


class RetirementPeriod(InvalidTransaction):
    code = "claims.retirement_period"
    default_message = "the retirement's claim period does not cover the claim's period"


class RetiredTooLate(InvalidTransaction):
    code = "claims.retired_too_late"
    default_message = "credits count only if retired no later than 12 months after the period"


class NotCovered(InvalidTransaction):
    code = "claims.not_covered"
    default_message = "the retired credits do not cover the residual emissions"


class MixedGas(InvalidTransaction):
    code = "claims.mixed_gas"
    default_message = "the credits' gas is not the inventory's (CO2 and CO2e are not mixed)"


class SelfVerification(InvalidTransaction):
    code = "claims.self_verification"
    default_message = "a carbon verifier does not verify its own organisation's claim"


class AlreadyVerified(InvalidTransaction):
    code = "claims.already_verified"
    default_message = "the claim has a verifier's statement already"


class Withdrawn(InvalidTransaction):
    code = "claims.withdrawn"
    default_message = "the claim was withdrawn"


class NotClaimant(InvalidTransaction):
    code = "claims.not_claimant"
    default_message = "only an account of the claimant organisation withdraws its claim"


class InvalidStatement(InvalidTransaction):
    code = "claims.invalid_statement"
    default_message = "a statement gives its opinion (reasonable, limited, adverse) and text"
