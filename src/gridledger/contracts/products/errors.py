"""Products' refusals, each with a stable ``products.*`` code."""

from __future__ import annotations

from gridledger.core.errors import InvalidTransaction


class InvalidGtin(InvalidTransaction):
    code = "products.invalid_gtin"
    default_message = "a GTIN is 8, 12, 13 or 14 digits ending in its GS1 check digit"


class InvalidIdentifier(InvalidTransaction):
    code = "products.invalid_identifier"
    default_message = "a lot or serial is 1-20 characters of A-Z a-z 0-9 . _ -"


class InvalidProduct(InvalidTransaction):
    code = "products.invalid_product"
    default_message = "a product type has a name, a unit (g, kg or unit) and a positive mass"


class TypeExists(InvalidTransaction):
    code = "products.type_exists"
    default_message = "a product type with this GTIN was registered already"


class UnknownType(InvalidTransaction):
    code = "products.unknown_type"
    default_message = "no product type has this GTIN"


class NotManufacturer(InvalidTransaction):
    code = "products.not_manufacturer"
    default_message = "only the organisation that registered the product type does this"


class BatchExists(InvalidTransaction):
    code = "products.batch_exists"
    default_message = "a batch with this GTIN and lot was registered already"


class UnknownBatch(InvalidTransaction):
    code = "products.unknown_batch"
    default_message = "no batch has this GTIN and lot"


class SerialExists(InvalidTransaction):
    code = "products.serial_exists"
    default_message = "a serial is registered once: this GTIN and serial exist already"


class UnknownSerial(InvalidTransaction):
    code = "products.unknown_serial"
    default_message = "no item has this GTIN and serial"


class InProduction(InvalidTransaction):
    code = "products.in_production"
    default_message = "the batch is still in production: complete it first"


class NotInProduction(InvalidTransaction):
    code = "products.not_in_production"
    default_message = "the batch was completed: it consumes no more inputs"


class NotHolder(InvalidTransaction):
    code = "products.not_holder"
    default_message = "only the organisation holding it moves, installs or scraps it"


class BadQuantity(InvalidTransaction):
    code = "products.bad_quantity"
    default_message = "a quantity is a positive integer in the product's unit, within what is held"


class OverConsumption(InvalidTransaction):
    code = "products.over_consumption"
    default_message = "a batch consumes no more of an input than its organisation received"


class NotInTransit(InvalidTransaction):
    code = "products.not_in_transit"
    default_message = "only something shipped and not yet received is received or returned"


class NotConsignee(InvalidTransaction):
    code = "products.not_consignee"
    default_message = "only the organisation it was shipped to receives or refuses it"


class BadCustody(InvalidTransaction):
    code = "products.bad_custody"
    default_message = "the custody event does not fit the item's state"


class AlreadyRecalled(InvalidTransaction):
    code = "products.already_recalled"
    default_message = "it was recalled already"


class InputMissing(InvalidTransaction):
    code = "products.input_missing"
    default_message = "every input the batch consumed needs its footprint before the batch's"


class FootprintExists(InvalidTransaction):
    code = "products.footprint_exists"
    default_message = "the batch's footprint was recorded already"


class InvalidFootprint(InvalidTransaction):
    code = "products.invalid_footprint"
    default_message = (
        "a footprint's share is 1-1,000,000 ppm and its default inputs are well formed"
    )


class MixedGas(InvalidTransaction):
    code = "products.mixed_gas"
    default_message = "a footprint's figures would mix CO2 with CO2e"


class UnknownSite(InvalidTransaction):
    code = "products.unknown_site"
    default_message = "a batch is made at a registered site of the manufacturer"
