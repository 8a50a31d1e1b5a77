"""`looklook certs`: the project's own certificate authority and its processes' certificates.

Mutual TLS between the router and the subgraphs needs a CA that signs every
process's certificate and nothing else's. This module makes a development CA
and one certificate per process under `DATA_DIR/certs/`, laid out like a
cert-manager secret so production can mount its own in the same shape:

    certs/ca.crt, certs/ca.key              the CA (ca.key never leaves this machine)
    certs/<name>/tls.crt, tls.key, ca.crt   one identity per process

Subgraphs get a server certificate that is also a client certificate (they call
each other: orders → travel, payments → orders and users); the router and the
background processes get client certificates only. Running it again keeps
every certificate that is still valid and renews the ones close to expiry, or
all of them when the CA changed; processes read their files at start, so
restart them (one by one) after a renewal.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from common.settings import Domain

CA_VALIDITY = timedelta(days=3650)
LEAF_VALIDITY = timedelta(days=90)
# Renew when less than this is left (cert-manager's default is a third of the lifetime).
RENEW_BEFORE = timedelta(days=30)
_ORGANIZATION = "looklook"
_CA_NAME = "looklook development CA"
# Kubernetes namespace of deploy/k8s: the in-cluster names of a Service.
_K8S_NAMESPACE = "looklook"


class Role(StrEnum):
    SERVER = "server"  # serves (and calls its peers): serverAuth + clientAuth
    CLIENT = "client"  # only calls subgraphs: clientAuth


@dataclass(frozen=True)
class Identity:
    name: str
    role: Role

    def dns_names(self) -> list[str]:
        """localhost plus the docker-compose service name and the Kubernetes Service names."""
        names = ["localhost", self.name]
        if self.role is Role.SERVER:
            service = f"{self.name}.{_K8S_NAMESPACE}"
            names += [service, f"{service}.svc", f"{service}.svc.cluster.local"]
        return names


# Every process that takes part in mutual TLS (the worker and the scheduler share one).
IDENTITIES: tuple[Identity, ...] = (
    *(Identity(domain.value, Role.SERVER) for domain in Domain),
    Identity("router", Role.CLIENT),
    Identity("worker", Role.CLIENT),
)
_IP_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


@dataclass(frozen=True)
class Outcome:
    name: str
    action: str  # "created", "renewed" or "kept"
    not_after: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: accepted by OpenSSL, Node and every TLS stack, and generated in microseconds.
    return ec.generate_private_key(ec.SECP256R1())


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Write a key readable by its owner only (created with that mode: never briefly open)."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    tmp.replace(path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _load_certificate(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _fresh(certificate: x509.Certificate, now: datetime) -> bool:
    return certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc - RENEW_BEFORE


def _signed_by(certificate: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _subject(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class Authority:
    """A CA's certificate and key: it signs the processes' certificates."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, name: str = _CA_NAME) -> Authority:
        key = _new_key()
        now = _now()
        subject = _subject(name)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @classmethod
    def load(cls, directory: Path) -> Authority | None:
        certificate = _load_certificate(directory / "ca.crt")
        try:
            key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
        except (OSError, ValueError):
            return None
        if certificate is None or not isinstance(key, ec.EllipticCurvePrivateKey):
            return None
        return cls(certificate, key)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        _write_private(directory / "ca.key", self.key)
        _write_public(directory / "ca.crt", _pem(self.certificate))

    def issue(self, identity: Identity) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A new key and certificate for one process, valid for LEAF_VALIDITY."""
        key = _new_key()
        now = _now()
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if identity.role is Role.SERVER:
            usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in identity.dns_names()]
        names += [x509.IPAddress(address) for address in _IP_ADDRESSES]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_subject(identity.name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(min(now + LEAF_VALIDITY, self.certificate.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=True,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )
        return certificate, key

    def write_identity(self, directory: Path, identity: Identity) -> x509.Certificate:
        """Issue and write `<directory>/tls.crt`, `tls.key` and `ca.crt` (cert-manager's names)."""
        certificate, key = self.issue(identity)
        directory.mkdir(parents=True, exist_ok=True)
        _write_private(directory / "tls.key", key)
        _write_public(directory / "tls.crt", _pem(certificate))
        _write_public(directory / "ca.crt", _pem(self.certificate))
        return certificate


def _current(directory: Path, authority: Authority, now: datetime) -> x509.Certificate | None:
    """The identity's certificate if it can stay: fresh, signed by this CA, with its key."""
    certificate = _load_certificate(directory / "tls.crt")
    ca_copy = _load_certificate(directory / "ca.crt")
    if (
        certificate is None
        or ca_copy != authority.certificate
        or not (directory / "tls.key").exists()
    ):
        return None
    if not _fresh(certificate, now) or not _signed_by(certificate, authority.certificate):
        return None
    return certificate


def ensure_certificates(
    certs_dir: Path, identities: Iterable[Identity] = IDENTITIES, *, renew: bool = False
) -> list[Outcome]:
    """Create what is missing and renew what is near expiry (all of it with `renew`).

    A new CA (none yet, or the old one near its end) reissues every certificate.
    """
    now = _now()
    outcomes: list[Outcome] = []
    authority = Authority.load(certs_dir)
    if authority is None or not _fresh(authority.certificate, now):
        action = "created" if authority is None else "renewed"
        authority = Authority.create()
        authority.save(certs_dir)
    else:
        action = "kept"
    outcomes.append(Outcome("ca", action, authority.certificate.not_valid_after_utc))
    for identity in identities:
        directory = certs_dir / identity.name
        existing = None if renew else _current(directory, authority, now)
        if existing is not None:
            outcomes.append(Outcome(identity.name, "kept", existing.not_valid_after_utc))
            continue
        had_one = (directory / "tls.crt").exists()
        issued = authority.write_identity(directory, identity)
        outcomes.append(
            Outcome(identity.name, "renewed" if had_one else "created", issued.not_valid_after_utc)
        )
    return outcomes
