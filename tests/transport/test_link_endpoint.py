"""The framework-free kernel link endpoint: the secret check, and that the native server
serves kernel links without importing Tornado (the layering this module exists for)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jupyter_sio.protocol.link_codec import KERNEL_HEADER, SESSION_HEADER, TOKEN_HEADER
from jupyter_sio.transport.eio_http import EngineError
from jupyter_sio.transport.link_endpoint import kernel_identity


def test_the_native_server_imports_no_tornado() -> None:
    code = (
        "import sys\n"
        "import jupyter_sio.transport.http_server, jupyter_sio.transport.link_endpoint\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tornado'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_a_kernel_with_the_secret_gets_kernel_powers() -> None:
    headers = {TOKEN_HEADER: "s3cret", KERNEL_HEADER: "0123456789abcdef", SESSION_HEADER: "s1"}
    identity = kernel_identity(headers, "s3cret")
    assert identity.powers and identity.kernel_id == "0123456789abcdef"
    assert identity.display_name == "kernel 01234567" and identity.session == "s1"


@pytest.mark.parametrize(
    ("presented", "secret"), [("", "s3cret"), ("wrong", "s3cret"), ("", ""), ("x", "")]
)
def test_a_wrong_or_missing_secret_is_refused(presented: str, secret: str) -> None:
    with pytest.raises(EngineError) as refused:
        kernel_identity({TOKEN_HEADER: presented}, secret)
    assert refused.value.status == 403
