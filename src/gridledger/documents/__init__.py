"""Certificates as documents: proof files, QR codes and PDF certificates.

* :mod:`.proofs`: a bundle's certificate proof file (``gridledger/certificate-proof/v1``)
  from a node's committed state, with its block's signature and attestations;
* :mod:`.qr`: the QR code of a proof file's payload (``GLC1:...``), as SVG, PNG or module
  runs a vector renderer draws, and its version;
* :mod:`.pdf`: the printable certificate (English or Chinese) with its fields, hashes and QR.

Checking them needs none of this: :mod:`gridledger.sdk.certificate_proofs` verifies a proof
file or a payload with the consortium keys file alone.
"""

from gridledger.documents.proofs import certificate_proof
from gridledger.documents.qr import QrCode, qr_code

__all__ = ["QrCode", "certificate_proof", "qr_code"]
