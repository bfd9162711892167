"""What the remote-daemon lesson needs: the client and the daemon need not share a machine, so the daemon is
reached over TCP with TLS, as `dockerd --tlsverify` is, through the API tap listening there.

1. `throwaway_certificates` makes a CA, a certificate for the tap (for 127.0.0.1) and one for the client, in a
   folder laid out as the docker CLI reads DOCKER_CERT_PATH (`ca.pem`, `cert.pem`, `key.pem`), valid for a day.
2. `tls_tap` runs `manage.py tap` on 127.0.0.1 with them (client certificates required) in front of the daemon's
   socket, in this archviz's database, until the lesson is over.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
START_SECONDS = 20.0
VALID = datetime.timedelta(days=1)


class RemoteError(Exception):
    """The TLS tap could not start; the message says why."""


@dataclass(frozen=True)
class Certificates:
    folder: Path  # the client's DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def server(self) -> Path:
        return self.folder / "server-cert.pem"

    @property
    def server_key(self) -> Path:
        return self.folder / "server-key.pem"


def throwaway_certificates(folder: Path) -> Certificates:
    """A CA and two certificates it signed, one to serve 127.0.0.1 and one for a client, written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "archviz lesson CA (throwaway)")])
    ca = (_builder(ca_name, ca_name, ca_key.public_key(), now)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_usage(cert_sign=True), critical=True)
          .sign(ca_key, hashes.SHA256()))
    certificates = Certificates(folder)
    _write(certificates.ca, ca.public_bytes(serialization.Encoding.PEM))
    for path, key_path, usage, extra in (
            (certificates.server, certificates.server_key, ExtendedKeyUsageOID.SERVER_AUTH,
             x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))])),
            (folder / "cert.pem", folder / "key.pem", ExtendedKeyUsageOID.CLIENT_AUTH, None)):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"archviz lesson {path.stem}")])
        builder = (_builder(name, ca_name, key.public_key(), now)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_usage(cert_sign=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if extra is not None:
            builder = builder.add_extension(extra, critical=False)
        _write(path, builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        _write(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return certificates


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def tls_tap(daemon: str, certificates: Certificates, port: int) -> Iterator[str]:
    """`manage.py tap` on tcp://127.0.0.1:PORT with TLS in front of `daemon` (unix://…); yields HOST:PORT once it
    listens, and stops it after."""
    command = [sys.executable, "-m", "django", "tap", "--listen", f"tcp://{HOST}:{port}",
               "--tlscacert", str(certificates.ca), "--tlscert", str(certificates.server),
               "--tlskey", str(certificates.server_key), "--upstream", daemon]
    with tempfile.TemporaryFile() as log:  # its log, read only if it does not start
        tap = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True,
                               env=os.environ | {"PYTHONUNBUFFERED": "1"})
        try:
            _wait_listening(tap, log)
            yield f"{HOST}:{port}"
        finally:
            if tap.poll() is None:
                tap.terminate()
                try:
                    tap.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    tap.kill()
                    tap.wait()
            if tap.stdout is not None:
                tap.stdout.close()


def _wait_listening(tap: subprocess.Popen[str], log: IO[bytes]) -> None:
    """Until the tap says it listens (its first line); RemoteError with what it logged when it stops or takes long."""
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.append(tap.stdout.readline() if tap.stdout else ""), daemon=True)
    reader.start()
    reader.join(START_SECONDS)
    if said and said[0].startswith("tapping"):
        return
    if tap.poll() is None:
        tap.kill()
    tap.wait()
    log.seek(0)
    logged = log.read().decode(errors="replace").strip().splitlines()
    why = logged[-1] if logged else "it said nothing"
    raise RemoteError(f"the TLS tap did not start within {START_SECONDS:.0f} s: {why}")


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey,
             now: datetime.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID))


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)
