"""HTTPS with a private CA (``verify=``) and mutual TLS (``cert=``) against the real server.

The CA, the server's certificate and a client certificate are made here with openssl, and
one server certificate that expires a few seconds after it is made (openssl ca).
"""

from __future__ import annotations

import subprocess
import time
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


SHORT_LIVED = r"""
set -e
mkdir cadb && : > cadb/index.txt && echo 1004 > cadb/serial
printf '[ca]\ndefault_ca = d\n[d]\ndatabase = cadb/index.txt\nnew_certs_dir = cadb\n''serial = cadb/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n''[p]\ncommonName = supplied\n' > ca.cnf
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out short.key
openssl req -new -key short.key -out short.csr -subj /CN=127.0.0.1
openssl ca -batch -notext -config ca.cnf -cert "$1/ca.pem" -keyfile "$1/ca.key" \
  -in short.csr -out short.pem -extfile "$1/san.ext" \
  -startdate "$(date -u -d @$(($2 - 60)) +%Y%m%d%H%M%SZ)" \
  -enddate "$(date -u -d @$2 +%Y%m%d%H%M%SZ)"
"""


def test_expired_server_certificate(root: Path, pki: Path, tmp_path: Path) -> None:
    # Valid for 3 more seconds: the server starts with it, then it expires under it.
    end = int(time.time()) + 3
    subprocess.run(["bash", "-c", SHORT_LIVED, "-", str(pki), str(end)], cwd=tmp_path,
                   check=True, capture_output=True)
    s = Server(root, "--tls-cert", str(tmp_path / "short.pem"), "--tls-key",
               str(tmp_path / "short.key"))
    try:
        url = f"https://127.0.0.1:{s.port}"
        ca = str(pki / "ca.pem")
        with tc.Client(url, verify=ca) as c:
            assert c.health() == {"status": "ok"}
        while time.time() <= end + 1:
            time.sleep(0.1)
        with tc.Client(url, verify=ca, check_version=False) as c:
            with pytest.raises(tc.TesseraConnectionError, match="expired"):
                c.health()
    finally:
        assert s.stop() == 0, "".join(s.lines[-20:])
