"""Key pairs for the WeChat Pay sandbox: generated on this machine, for development and tests.

WeChat Pay v3 uses two RSA key pairs: the merchant's (the merchant signs its
requests and the JSAPI `paySign`; WeChat verifies with the public half) and
WeChat Pay's own (WeChat signs responses and notifications; the merchant
verifies with the public half). The sandbox plays WeChat, so it needs the
merchant's public key and the platform's private key; the payments subgraph
needs the other halves. They are throwaway keys made on first start and kept
in one directory (DATA_DIR/wechatpay by default) so processes started
separately agree. No real key is ever shipped or used here.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048
MERCHANT_PRIVATE = "merchant_private_key.pem"
MERCHANT_PUBLIC = "merchant_public_key.pem"
PLATFORM_PRIVATE = "platform_private_key.pem"
PLATFORM_PUBLIC = "platform_public_key.pem"


@dataclass(frozen=True)
class SandboxKeys:
    """Both pairs, loaded; the `*_path` properties name their files in `directory`."""

    directory: Path
    merchant_private_key: rsa.RSAPrivateKey
    merchant_public_key: rsa.RSAPublicKey
    platform_private_key: rsa.RSAPrivateKey
    platform_public_key: rsa.RSAPublicKey

    @property
    def merchant_private_key_path(self) -> Path:
        return self.directory / MERCHANT_PRIVATE

    @property
    def merchant_public_key_path(self) -> Path:
        return self.directory / MERCHANT_PUBLIC

    @property
    def platform_private_key_path(self) -> Path:
        return self.directory / PLATFORM_PRIVATE

    @property
    def platform_public_key_path(self) -> Path:
        return self.directory / PLATFORM_PUBLIC


def _write_pair(directory: Path, private_name: str, public_name: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Written under temporary names and renamed: a reader never sees half a file.
    for name, data, mode in ((private_name, private_pem, 0o600), (public_name, public_pem, 0o644)):
        partial = directory / f".{name}.{os.getpid()}"
        partial.unlink(missing_ok=True)
        # Created with its final mode: a private key is never readable by others, even briefly.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        partial.chmod(mode)  # the umask may have narrowed a public key's mode
        partial.replace(directory / name)


def _load_private(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _load_public(path: Path) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def ensure_keys(directory: Path) -> SandboxKeys:
    """The sandbox key pairs in `directory`, generated the first time."""
    directory.mkdir(parents=True, exist_ok=True)
    # Processes starting together (sandbox, subgraph, worker) must not mix two pairs.
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for private_name, public_name in (
            (MERCHANT_PRIVATE, MERCHANT_PUBLIC),
            (PLATFORM_PRIVATE, PLATFORM_PUBLIC),
        ):
            if not (directory / private_name).exists() or not (directory / public_name).exists():
                _write_pair(directory, private_name, public_name)
    return SandboxKeys(
        directory=directory,
        merchant_private_key=_load_private(directory / MERCHANT_PRIVATE),
        merchant_public_key=_load_public(directory / MERCHANT_PUBLIC),
        platform_private_key=_load_private(directory / PLATFORM_PRIVATE),
        platform_public_key=_load_public(directory / PLATFORM_PUBLIC),
    )
