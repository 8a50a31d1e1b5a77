"""`looklook certs`: what it makes, what it keeps and what it renews (no servers)."""

from __future__ import annotations

import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from common import certs
from common.certs import IDENTITIES, Authority, Identity, Role, ensure_certificates


def _certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_makes_a_ca_and_a_certificate_per_process(tmp_path: Path) -> None:
    outcomes = ensure_certificates(tmp_path)
    assert {o.name: o.action for o in outcomes} == {
        "ca": "created",
        **{i.name: "created" for i in IDENTITIES},
    }
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    for identity in IDENTITIES:
        directory = tmp_path / identity.name
        assert stat.S_IMODE((directory / "tls.key").stat().st_mode) == 0o600
        assert (directory / "ca.crt").read_bytes() == (tmp_path / "ca.crt").read_bytes()
        cert = _certificate(directory / "tls.crt")
        usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
        assert ExtendedKeyUsageOID.CLIENT_AUTH in usages
        assert (ExtendedKeyUsageOID.SERVER_AUTH in usages) == (identity.role is Role.SERVER)
        # Loads as a TLS identity trusting exactly our CA.
        context = ssl.create_default_context(cafile=str(directory / "ca.crt"))
        context.load_cert_chain(directory / "tls.crt", directory / "tls.key")
    names = _certificate(tmp_path / "orders" / "tls.crt").extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert {"localhost", "orders", "orders.looklook.svc.cluster.local"} <= set(
        names.value.get_values_for_type(x509.DNSName)
    )
    assert "127.0.0.1" in {str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)}


def test_a_second_run_keeps_valid_certificates(tmp_path: Path) -> None:
    ensure_certificates(tmp_path)
    before = (tmp_path / "users" / "tls.crt").read_bytes()
    outcomes = ensure_certificates(tmp_path)
    assert {o.action for o in outcomes} == {"kept"}
    assert (tmp_path / "users" / "tls.crt").read_bytes() == before


def test_renews_near_expiry_and_replaces_certificates_of_another_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_certificates(tmp_path)
    # users: signed by a stranger; travel: within the renewal window.
    Authority.create().write_identity(tmp_path / "users", Identity("users", Role.SERVER))
    monkeypatch.setattr(certs, "LEAF_VALIDITY", certs.RENEW_BEFORE - timedelta(days=1))
    ca = Authority.load(tmp_path)
    assert ca is not None
    ca.write_identity(tmp_path / "travel", Identity("travel", Role.SERVER))
    monkeypatch.undo()
    actions = {o.name: o.action for o in ensure_certificates(tmp_path)}
    assert actions["users"] == actions["travel"] == "renewed"
    assert actions["orders"] == actions["ca"] == "kept"
    renewed = _certificate(tmp_path / "travel" / "tls.crt")
    assert renewed.not_valid_after_utc > datetime.now(UTC) + certs.RENEW_BEFORE
    renewed.verify_directly_issued_by(_certificate(tmp_path / "ca.crt"))


def test_renew_reissues_everything_under_the_same_ca(tmp_path: Path) -> None:
    ensure_certificates(tmp_path)
    ca_before = (tmp_path / "ca.crt").read_bytes()
    actions = {o.name: o.action for o in ensure_certificates(tmp_path, renew=True)}
    assert actions.pop("ca") == "kept" and set(actions.values()) == {"renewed"}
    assert (tmp_path / "ca.crt").read_bytes() == ca_before
