"""The extension application: settings, environment, page config, configuration, shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.serverapp import ServerApp
from tornado.httpclient import AsyncHTTPClient
from traitlets import TraitError
from traitlets.config import Config

import jupyter_sio
from jupyter_sio import ConfigError, HubConfig
from jupyter_sio.hub.adapter import Adapter
from jupyter_sio.jupyter.app import JupyterSioApp, decode_path_chars

from .conftest import TIMEOUT, RawSio, Server


class MyAdapter(Adapter):
    pass


# -- wiring ----------------------------------------------------------------------------------
async def test_hub_and_engine_are_shared_through_settings(server: Server) -> None:
    settings = server.serverapp.web_app.settings
    assert settings["jupyter_sio_hub"] is server.app.hub
    assert settings["jupyter_sio_engine"] is server.app.engine
    assert server.app.hub.kernel_router is not None


@pytest.mark.parametrize(
    "sio_config",
    [
        {
            "ping_interval": 3.0,
            "ping_timeout": 4.0,
            "max_payload": 5000,
            "max_buffer_packets": 7,
            "max_buffer_bytes": 70000,
            "send_timeout": 2.5,
            "ack_timeout": 9.0,
            "transports": ["websocket"],
            "cors_allowed_origins": ["http://app.example"],
            "adapter_class": "tests.jupyter.test_app.MyAdapter",
        }
    ],
)
async def test_traits_reach_the_hub(server: Server) -> None:
    config = server.app.hub.config
    assert config == HubConfig().replace(
        ping_interval=3.0,
        ping_timeout=4.0,
        max_payload=5000,
        max_buffer_packets=7,
        max_buffer_bytes=70000,
        send_timeout=2.5,
        ack_timeout=9.0,
        transports=("websocket",),
        cors_allowed_origins=("http://app.example",),
    )
    assert server.app.hub.adapter_factory is MyAdapter
    assert isinstance(server.app.hub.default.adapter, MyAdapter)
    polling = await server.fetch(server.sio_url(f"token={server.token}"))
    assert polling.code == 400  # polling is not an allowed transport now


@pytest.mark.parametrize("sio_config", [{"path": "/live/sio/"}])
async def test_custom_path(server: Server) -> None:
    query = f"EIO=4&transport=polling&token={server.token}"
    response = await server.fetch(server.url(f"live/sio/socket.io/?{query}"))
    assert response.code == 200 and response.body.startswith(b"0{")
    # (Without the trailing slash: Jupyter redirects unknown paths ending in "/".)
    default = await server.fetch(server.url(f"jupyter-sio/socket.io?token={server.token}"))
    assert default.code == 404


@pytest.mark.parametrize("sio_config", [{"kernel_link": False}])
async def test_without_kernel_link(server: Server) -> None:
    response = await server.fetch(server.url("jupyter-sio/kernel"))
    assert response.code == 404
    assert "JUPYTER_SIO_TOKEN" not in os.environ
    assert "JUPYTER_SIO_URL" not in os.environ


# -- environment -----------------------------------------------------------------------------
async def test_environment_for_kernels(server: Server) -> None:
    assert os.environ["JUPYTER_SIO_TOKEN"] == server.app.secret
    assert len(server.app.secret) >= 40
    assert os.environ["JUPYTER_SIO_URL"] == f"http://127.0.0.1:{server.port}/a%40b/jupyter-sio/"


@pytest.mark.parametrize(
    ("ip", "host"),
    [("", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "127.0.0.1"),
     ("localhost", "127.0.0.1"), ("10.1.2.3", "10.1.2.3"), ("::1", "[::1]")],
)
async def test_local_url_host(server: Server, ip: str, host: str) -> None:
    saved = server.serverapp.ip
    server.serverapp.ip = ip
    try:
        url = server.app.local_url(server.serverapp)
    finally:
        server.serverapp.ip = saved
    assert url == f"http://{host}:{server.port}/a%40b/jupyter-sio/"


async def test_stop_disconnects_clients_and_restores_environment(server: Server) -> None:
    browser = RawSio(
        await server.ws(
            server.sio_url(transport="websocket", scheme="ws"),
            {"Authorization": f"token {server.token}"},
        )
    )
    await browser.start()
    assert server.app.hub.clients
    await server.app.stop_extension()
    # The socket is closed by the server (after its close packet, if any).
    closed = False
    for _ in range(10):
        message = await asyncio.wait_for(browser.conn.read_message(), TIMEOUT)
        if message is None:
            closed = True
            break
    assert closed
    assert not server.app.hub.clients
    assert "JUPYTER_SIO_TOKEN" not in os.environ
    assert "JUPYTER_SIO_URL" not in os.environ
    await server.app.stop_extension()  # idempotent (the server's cleanup calls it again)


# -- page config -----------------------------------------------------------------------------
async def test_page_config_has_paths_and_no_secret(server: Server) -> None:
    page_config = server.serverapp.web_app.settings["page_config_data"]
    assert page_config["jupyterSio"] == {
        "path": "/a%40b/jupyter-sio/",
        "socketioPath": "/a%40b/jupyter-sio/socket.io/",
        "parser": "default",  # the widgets follow c.JupyterSioApp.parser
        "version": jupyter_sio.__version__,
    }
    text = json.dumps(page_config)
    assert server.app.secret not in text
    assert server.token not in text


@pytest.mark.parametrize("extra_extensions", [{"jupyterlab": True}])
async def test_page_config_reaches_jupyterlab(server: Server) -> None:
    response = await server.fetch(server.url(f"lab?token={server.token}"))
    assert response.code == 200, response.code
    html = response.body.decode()
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      html, re.S)
    assert match, html[:500]
    data = json.loads(match.group(1))
    assert data["jupyterSio"]["socketioPath"] == "/a%40b/jupyter-sio/socket.io/"
    assert server.app.secret not in html


# -- configuration errors --------------------------------------------------------------------
def _app(options: dict[str, Any]) -> JupyterSioApp:
    return JupyterSioApp(config=Config({"JupyterSioApp": options}))


@pytest.mark.parametrize(
    ("options", "trait"),
    [
        ({"ping_interval": -1.0}, "ping_interval"),
        ({"ping_timeout": 0.0}, "ping_timeout"),
        ({"max_payload": 0}, "max_payload"),
        ({"max_buffer_packets": -5}, "max_buffer_packets"),
        ({"send_timeout": 0.0}, "send_timeout"),
        ({"transports": ["carrier-pigeon"]}, "transports"),
        ({"transports": []}, "transports"),
    ],
)
def test_invalid_values_name_the_trait(options: dict[str, Any], trait: str) -> None:
    with pytest.raises(ConfigError, match=rf"JupyterSioApp\.{trait}\b"):
        _app(options).hub_config()


def test_misspelled_option_names_it() -> None:
    app = _app({"pin_interval": 5.0})
    with pytest.raises(ConfigError, match=r"JupyterSioApp\.pin_interval.*ping_interval"):
        app.check_config()


def test_wrong_types_are_refused_by_traitlets() -> None:
    with pytest.raises(TraitError, match="ping_interval"):
        _app({"ping_interval": "soon"})
    with pytest.raises(TraitError, match="path"):
        _app({"path": "//"})
    with pytest.raises(TraitError, match="adapter_class"):
        _app({"adapter_class": "builtins.dict"})


def test_valid_defaults() -> None:
    app = _app({})
    app.check_config()
    assert app.hub_config() == HubConfig()
    assert app.path == "jupyter-sio"
    assert app.kernel_link is True
    assert app.adapter_class is Adapter
    assert app.cors_allowed_origins == []


@pytest.mark.parametrize("sio_config", [{"ping_interval": -1.0}])
def test_invalid_config_fails_the_server_start(
    jp_configurable_serverapp: Callable[..., ServerApp], jp_server_config: Config
) -> None:
    config = Config(jp_server_config)
    config.ServerApp.reraise_server_extension_failures = True
    with pytest.raises(ConfigError, match=r"JupyterSioApp\.ping_interval"):
        jp_configurable_serverapp(config=config)
    assert "JUPYTER_SIO_TOKEN" not in os.environ


@pytest.mark.parametrize("sio_config", [{"ping_interval": "soon"}])
async def test_wrongly_typed_config_keeps_the_hub_off(jp_serverapp: ServerApp) -> None:
    # The server logs the TraitError naming the trait and starts without the hub rather
    # than with a half-applied configuration.
    assert "jupyter_sio_hub" not in jp_serverapp.web_app.settings
    assert "JUPYTER_SIO_TOKEN" not in os.environ


def test_decode_path_chars() -> None:
    assert decode_path_chars("/a%40b/") == "/a@b/"
    assert decode_path_chars("/a%2Fb/%20/%7e") == "/a%2Fb/%20/~"


# -- installation ----------------------------------------------------------------------------
def test_extension_list_shows_it_enabled(tmp_path: Path) -> None:
    jupyter = Path(sys.executable).with_name("jupyter")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY", "PYTEST"))
    }
    env.update(
        HOME=str(tmp_path),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    result = subprocess.run(
        [str(jupyter), "server", "extension", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert result.returncode == 0, output
    assert re.search(r"jupyter_sio\s+enabled", output), output
    assert re.search(r"jupyter_sio\s+[\d.]+\s+OK", output), output
    installed = Path(sys.prefix, "etc", "jupyter", "jupyter_server_config.d", "jupyter_sio.json")
    assert json.loads(installed.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"jupyter_sio": True}}
    }


async def test_real_server_sets_url_after_binding_port_zero(tmp_path: Path) -> None:
    """A `jupyter server --port=0` subprocess: the start hook sees the bound port."""
    jupyter = Path(sys.executable).with_name("jupyter")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY", "PYTEST"))
    }
    env.update(
        HOME=str(tmp_path),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    (tmp_path / "root").mkdir()
    process = await asyncio.create_subprocess_exec(
        str(jupyter), "server", "--port=0", "--ip=127.0.0.1", "--no-browser", "--allow-root",
        "--ServerApp.base_url=/b%40x/", "--IdentityProvider.token=sekrit",
        f"--ServerApp.root_dir={tmp_path / 'root'}", "--JupyterSioApp.ping_interval=5",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        url = None
        while url is None:
            line = (await asyncio.wait_for(process.stderr.readline(), 60)).decode()
            assert line, "".join(lines)
            lines.append(line)
            found = re.search(r"kernels reach the hub at (\S+)", line)
            if found:
                url = found.group(1)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/b%40x/jupyter-sio/", url), url
        assert not url.startswith("http://127.0.0.1:0/")
        response = await AsyncHTTPClient().fetch(
            f"{url}socket.io/?EIO=4&transport=polling&token=sekrit", request_timeout=TIMEOUT
        )
        assert response.code == 200
        assert json.loads(response.body[1:])["pingInterval"] == 5000
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
