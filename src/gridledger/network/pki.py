"""The consortium's certificate authority and each organisation's TLS certificate.

One CA (ECDSA P-256, self-signed) signs one certificate per organisation. That certificate serves
the organisation's etcd member three ways: as its server certificate for clients, as its peer
certificate towards the other members (peers authenticate each other as TLS server *and*
client), and as the client certificate of the organisation's node and of etcd's own HTTP
gateway, which dials its member's gRPC port with it. So it carries both extended key usages,
``serverAuth`` and ``clientAuth``, and a subject alternative name for every host name or IP
address the member is reached at (``127.0.0.1``, ``localhost``, the organisation's address).
Go, and so etcd, ignores the common name and checks only those SANs.

Files, in the directory passed: ``<name>.crt`` / ``<name>.key`` for the CA and
``<org_id>.crt`` / ``<org_id>.key`` per organisation; certificates PEM, keys unencrypted PKCS#8
PEM written with mode 0600 (etcd reads them without a passphrase).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_VALIDITY = dt.timedelta(days=730)
"""Two years; pass ``validity`` for anything else."""
CLOCK_SKEW = dt.timedelta(minutes=5)
"""Certificates start this much before now: a peer whose clock lags a little accepts them."""


@dataclass(frozen=True)
class TlsFiles:
    """What a TLS client or server needs: the CA to trust and, for mutual TLS, its own pair.

    A client without ``cert``/``key`` still checks the server but presents no certificate, which
    a member started with ``--client-cert-auth`` refuses.
    """

    ca_cert: Path
    """The consortium CA's certificate (PEM)."""
    cert: Path | None = None
    """This party's certificate (PEM), signed by the CA."""
    key: Path | None = None
    """This party's private key (PEM, mode 0600)."""


@dataclass(frozen=True)
class CertificateAuthority:
    """The consortium CA: its certificate and key, in memory and on disk."""

    name: str
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path


@dataclass(frozen=True)
class OrgCredentials:
    """An organisation's certificate and key, issued by the consortium CA."""

    org_id: str
    certificate: x509.Certificate
    cert_path: Path
    key_path: Path
    ca_cert_path: Path

    @property
    def tls(self) -> TlsFiles:
        """The files for mutual TLS: this organisation's pair and the CA it trusts."""
        return TlsFiles(ca_cert=self.ca_cert_path, cert=self.cert_path, key=self.key_path)


def make_ca(
    directory: Path, name: str, *, validity: dt.timedelta = DEFAULT_VALIDITY
) -> CertificateAuthority:
    """Create a self-signed CA and write ``<name>.crt`` and ``<name>.key`` into ``directory``.

    Parameters:
        directory: where the files go (created if missing).
        name: the CA's common name and file stem.
        validity: how long the CA certificate is valid from now.

    Returns:
        The CA, ready to :func:`issue` certificates.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=True, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    _write_private_key(key_path, key)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return CertificateAuthority(name, certificate, key, cert_path, key_path)


def issue(
    ca: CertificateAuthority,
    org_id: str,
    directory: Path,
    hosts: list[str],
    *,
    validity: dt.timedelta = DEFAULT_VALIDITY,
) -> OrgCredentials:
    """Issue ``org_id`` a certificate for etcd server, peer and client use.

    Parameters:
        ca: the signing CA.
        org_id: the organisation; the certificate's common name and file stem.
        directory: where ``<org_id>.crt`` and ``<org_id>.key`` go (created if missing).
        hosts: every name or IP address the member is reached at; each becomes a SAN
            (an IP address SAN when it parses as one, a DNS name otherwise).
        validity: how long the certificate is valid from now.

    Returns:
        The certificate and the paths of its files and of the CA certificate.

    Raises:
        ValueError: no hosts were given (a certificate without SANs fails every TLS check).
    """
    if not hosts:
        raise ValueError("a certificate needs at least one host name or IP address")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    # never outlive the CA: a chain with an expired issuer fails anyway
    not_after = min(now + validity, ca.certificate.not_valid_after_utc)
    public = key.public_key()
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_id),
                    x509.NameAttribute(NameOID.COMMON_NAME, org_id),
                ]
            )
        )
        .issuer_name(ca.certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(_san(hosts)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca.private_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{org_id}.crt", directory / f"{org_id}.key"
    _write_private_key(key_path, key)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return OrgCredentials(org_id, certificate, cert_path, key_path, ca.cert_path)


def _san(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):  # keep order, drop repeats
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _key_usage(*, digital_signature: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Write ``key`` readable by its owner only, whatever the umask, before any byte is written."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
        os.write(fd, pem)
    finally:
        os.close(fd)
