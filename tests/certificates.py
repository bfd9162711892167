"""Throwaway certificates for the TLS tests, made with Debian's openssl: CAs, and certificates they sign (EC keys,
valid for a day)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl(folder: Path, *args: str) -> None:
    subprocess.run(["/usr/bin/openssl", *args], cwd=folder, check=True, capture_output=True, timeout=30)


def make_ca(folder: Path, name: str) -> None:
    """NAME.pem and NAME-key.pem in `folder`: a CA."""
    openssl(folder, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}-key.pem", "-out", f"{name}.pem", "-days", "1", "-subj", f"/CN=archviz test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")


def make_signed(folder: Path, ca: str, name: str, extensions: str) -> None:
    """NAME.pem and NAME-key.pem in `folder`: a certificate the CA named `ca` signed, with `extensions`."""
    openssl(folder, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", f"/CN={name}")
    (folder / f"{name}.ext").write_text(extensions)
    openssl(folder, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem",
            "-CAcreateserial", "-days", "1", "-out", f"{name}.pem", "-extfile", f"{name}.ext")


def make_pki(folder: Path, client: str) -> None:
    """In `folder`: a CA (ca.pem), its certificates for a server at 127.0.0.1 (server.pem) and for a client
    (CLIENT.pem), and an impostor's client certificate (impostor.pem) that another CA signed; each with its -key.pem."""
    make_ca(folder, "ca")
    make_ca(folder, "other-ca")
    make_signed(folder, "ca", "server", SERVER)
    make_signed(folder, "ca", client, CLIENT)
    make_signed(folder, "other-ca", "impostor", CLIENT)


SERVER = "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
CLIENT = "extendedKeyUsage=clientAuth\n"
