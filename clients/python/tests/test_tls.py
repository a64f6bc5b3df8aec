"""HTTPS with a private CA (``verify=``) and mutual TLS (``cert=``) against the real server.

The CA, the server's certificate and a client certificate are made here with openssl.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import tessera_client as tc
from conftest import Server

SCRIPT = r"""
set -e
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
key ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj "/CN=Client Test CA"
printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
key srv.key
openssl req -new -key srv.key -out srv.csr -subj /CN=127.0.0.1
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 7 -days 1 \
  -extfile san.ext -out srv.pem
key cli.key
openssl req -new -key cli.key -out cli.csr -subj /CN=python-client
openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -set_serial 8 -days 1 -out cli.pem
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    subprocess.run(["bash", "-c", SCRIPT], cwd=d, check=True, capture_output=True)
    return d


def test_https_with_private_ca(root: Path, pki: Path) -> None:
    s = Server(root, "--tls-cert", str(pki / "srv.pem"), "--tls-key", str(pki / "srv.key"),
               "--token", "s3cret-token")
    try:
        url = f"https://127.0.0.1:{s.port}"
        with tc.Client(url, token="s3cret-token", verify=str(pki / "ca.pem")) as c:
            assert c.health() == {"status": "ok"}
            assert c.metrics().version == tc.__version__
        # The system store does not know the private CA: the client refuses the server.
        with tc.Client(url, token="s3cret-token", check_version=False) as c:
            with pytest.raises(tc.TesseraConnectionError):
                c.health()
    finally:
        assert s.stop() == 0, "".join(s.lines[-20:])


def test_mutual_tls(root: Path, pki: Path) -> None:
    s = Server(root, "--tls-cert", str(pki / "srv.pem"), "--tls-key", str(pki / "srv.key"),
               "--tls-client-ca", str(pki / "ca.pem"), "--token", "s3cret-token")
    try:
        url = f"https://127.0.0.1:{s.port}"
        ca = str(pki / "ca.pem")
        with tc.Client(url, verify=ca, cert=(str(pki / "cli.pem"), str(pki / "cli.key"))) as c:
            assert c.metrics().version == tc.__version__  # the certificate stands in for the token
        with tc.Client(url, token="s3cret-token", verify=ca, check_version=False) as c:
            assert c.health() == {"status": "ok"}  # public: no certificate needed
            with pytest.raises(tc.Unauthorized):
                c.metrics()  # the token alone is not enough with --tls-client-ca
    finally:
        assert s.stop() == 0, "".join(s.lines[-20:])
