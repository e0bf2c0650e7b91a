"""Helpers for the browser tests: a synchronous handle on a :class:`LiveServer` running
``jupyter lab`` (REST API, notebooks, headless kernels) and a JupyterLab page wrapper.

Every wait is bounded; nothing asserts a duration.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.request
from pathlib import Path
from typing import Any

import nbformat

from tests.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"

#: generous bounds for a 2-core machine; they limit waits, they are not measured
LAB_TIMEOUT = 90_000
KERNEL_TIMEOUT = 60_000
UPDATE_TIMEOUT = 30_000

#: the visible notebook panel (Lab may restore other documents into hidden panels)
CURRENT = ".jp-NotebookPanel:not(.lm-mod-hidden)"

QUIET_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True,
    },
}


class Lab:
    """A running ``jupyter lab`` with the synchronous calls the tests need."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.work = server.dirs["work"]

    @staticmethod
    def prepare(server: LiveServer) -> None:
        """Quiet user settings (no news toast, no update check), before the server starts."""
        settings = server.dirs["config"] / "lab" / "user-settings"
        for name, value in QUIET_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))

    # -- REST ---------------------------------------------------------------------------
    def api(self, *parts: str, method: str = "GET", body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        if method == "POST" and data is None:
            data = b"{}"
        request = urllib.request.Request(
            self.server.url + "api/" + "/".join(parts), data=data, method=method,
            headers={"Authorization": f"token {self.server.token}",
                     "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def kernel_id_of(self, notebook: str) -> str:
        sessions = self.api("sessions")
        for session in sessions:
            if session["path"] == notebook and session.get("kernel"):
                return str(session["kernel"]["id"])
        raise LookupError(f"no session for {notebook}: {sessions}")

    def restart_kernel(self, kernel_id: str) -> None:
        self.api("kernels", kernel_id, "restart", method="POST")

    def start_kernel(self) -> HeadlessKernel:
        info = self.api("kernels", method="POST", body={"name": "python3"})
        return HeadlessKernel(self, str(info["id"]))

    def kernel(self, kernel_id: str) -> HeadlessKernel:
        return HeadlessKernel(self, kernel_id)

    # -- notebooks ----------------------------------------------------------------------
    def write_notebook(self, name: str, cells: list[str]) -> str:
        book = nbformat.v4.new_notebook()
        book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}
        book.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        nbformat.write(book, self.work / name)
        return name

    def open(self, page: Any, notebook: str) -> LabPage:
        workspace = "w" + secrets.token_hex(6)
        page.goto(f"{self.server.url}lab/workspaces/{workspace}/tree/{notebook}"
                  f"?reset&token={self.server.token}", timeout=LAB_TIMEOUT)
        lab_page = LabPage(self, page, notebook)
        # the toolbar indicator says "idle" before the notebook has a session: also wait for
        # the server to list the notebook's kernel, and for the status bar to name it
        self.wait_for_session(notebook, page)
        lab_page.wait_idle(timeout=LAB_TIMEOUT)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
            ".some((e) => /\\| Idle/.test(e.textContent))", timeout=LAB_TIMEOUT)
        return lab_page

    def wait_for_session(self, notebook: str, page: Any, timeout: float = LAB_TIMEOUT) -> str:
        """Poll the sessions API (bounded; ``page`` paces the polls) for ``notebook``'s kernel."""
        for _ in range(int(timeout / 250)):
            try:
                return self.kernel_id_of(notebook)
            except LookupError:
                page.wait_for_timeout(250)
        return self.kernel_id_of(notebook)


class HeadlessKernel:
    """A blocking jupyter_client connection to a kernel the server runs."""

    def __init__(self, lab: Lab, kernel_id: str) -> None:
        from jupyter_client import BlockingKernelClient

        self.lab = lab
        self.kernel_id = kernel_id
        connection_file = lab.server.dirs["runtime"] / f"kernel-{kernel_id}.json"
        client = BlockingKernelClient()
        client.load_connection_file(str(connection_file))
        client.start_channels(hb=False)  # see tests/live_server.py: heartbeats miss on busy CI
        client.wait_for_ready(timeout=KERNEL_TIMEOUT / 1000)
        self.client = client

    def run(self, code: str, timeout: float = 60) -> str:
        """Execute ``code``; return its stdout; raise on an error."""
        out: list[str] = []
        errors: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                out.append(content["text"])
            elif kind == "error":
                errors.append("\n".join(content.get("traceback", [])) or content.get("evalue", ""))

        reply = self.client.execute_interactive(code, output_hook=hook, timeout=timeout)
        if errors or reply["content"]["status"] != "ok":
            raise AssertionError(f"kernel error running {code!r}:\n" + "\n".join(errors))
        return "".join(out)

    def close(self) -> None:
        self.client.stop_channels()


class LabPage:
    """One JupyterLab page with one notebook open."""

    def __init__(self, lab: Lab, page: Any, notebook: str) -> None:
        self.lab = lab
        self.page = page
        self.notebook = notebook

    def sel(self, selector: str) -> str:
        return f"{CURRENT} {selector}"

    def wait_status(self, status: str, timeout: float = KERNEL_TIMEOUT) -> None:
        self.page.wait_for_selector(
            self.sel(f".jp-Notebook-ExecutionIndicator[data-status='{status}']"),
            timeout=timeout)

    def wait_idle(self, timeout: float = KERNEL_TIMEOUT) -> None:
        self.wait_status("idle", timeout)

    def kernel_status(self) -> str | None:
        return self.page.get_attribute(self.sel(".jp-Notebook-ExecutionIndicator"),
                                       "data-status")

    @property
    def kernel_id(self) -> str:
        return self.lab.kernel_id_of(self.notebook)

    def cells(self) -> Any:
        return self.page.locator(self.sel(".jp-Notebook .jp-Cell"))

    def prompt(self, index: int) -> str:
        text = self.cells().nth(index).locator(".jp-InputPrompt").text_content() or ""
        return text.strip()

    def run_cells(self, start: int, count: int = 1) -> None:
        """Run cells ``start`` .. ``start + count - 1`` one by one (Ctrl+Enter on each: run in
        place, no new cell), each queued before the next is pressed."""
        for index in range(start, start + count):
            self.run_cell(index)

    def run_cell(self, index: int) -> None:
        """Select cell ``index`` and run it; returns once the kernel accepted it (the prompt
        shows ``[*]`` or a count). A key press that Lab dropped (right after the page or the
        kernel became ready, the notebook may not take it yet) is pressed again: a cell whose
        prompt is still ``[ ]`` was never sent to the kernel."""
        cells = self.sel(".jp-Notebook .jp-Cell")
        for attempt in range(5):
            # watch the prompt: Lab rewrites it to [*] when it sends the cell to the kernel
            self.page.evaluate(
                """([sel, i]) => {
                    const p = document.querySelectorAll(sel)[i].querySelector('.jp-InputPrompt');
                    if (p.__e2eObserver) p.__e2eObserver.disconnect();
                    p.__e2eQueued = false;
                    p.__e2eObserver = new MutationObserver(() => {
                        if (p.textContent.includes('*')) p.__e2eQueued = true;
                    });
                    p.__e2eObserver.observe(
                        p, {childList: true, characterData: true, subtree: true});
                }""", [cells, index])
            self.cells().nth(index).locator(".jp-InputPrompt").click()
            self.page.keyboard.press("Control+Enter")
            try:
                self.page.wait_for_function(
                    """([sel, i]) => {
                        const p = document.querySelectorAll(sel)[i]
                            .querySelector('.jp-InputPrompt');
                        return p.__e2eQueued || p.textContent.includes('*');
                    }""", arg=[cells, index], timeout=5_000 * (attempt + 1))
                return
            except Exception:
                if attempt == 4:
                    raise

    def wait_executed(self, index: int, timeout: float = KERNEL_TIMEOUT) -> None:
        """Wait until cell ``index`` shows an execution count (not ``[ ]`` or ``[*]``)."""
        self.page.wait_for_function(
            """([sel, i]) => {
                const cell = document.querySelectorAll(sel)[i];
                const p = cell && cell.querySelector('.jp-InputPrompt');
                return !!p && /\\[\\d+\\]/.test(p.textContent);
            }""",
            arg=[self.sel(".jp-Notebook .jp-Cell"), index], timeout=timeout)

    def wait_running(self, index: int, timeout: float = KERNEL_TIMEOUT) -> None:
        self.page.wait_for_function(
            """([sel, i]) => {
                const cell = document.querySelectorAll(sel)[i];
                const p = cell && cell.querySelector('.jp-InputPrompt');
                return !!p && p.textContent.includes('*');
            }""",
            arg=[self.sel(".jp-Notebook .jp-Cell"), index], timeout=timeout)

    def errors(self, *indices: int) -> list[str]:
        """Error outputs (tracebacks) of the given cells, or of every cell."""
        return [str(e) for e in self.page.evaluate(
            """([sel, indices]) => [...document.querySelectorAll(sel)]
                .filter((_, i) => indices.length === 0 || indices.includes(i))
                .flatMap((cell, i) => [...cell.querySelectorAll(
                    ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")]
                    .map((o) => o.textContent)
                    .filter((t) => /Traceback|Error|Exception/.test(t)))""",
            [self.sel(".jp-Notebook .jp-Cell"), list(indices)])]

    def output_text(self, index: int) -> str:
        return self.cells().nth(index).locator(".jp-OutputArea").inner_text()

    def wait_output(self, index: int, pattern: str, timeout: float = KERNEL_TIMEOUT) -> str:
        self.page.wait_for_function(
            """([sel, i, pat]) => {
                const cell = document.querySelectorAll(sel)[i];
                const out = cell && cell.querySelector('.jp-OutputArea');
                return !!out && new RegExp(pat).test(out.textContent);
            }""",
            arg=[self.sel(".jp-Notebook .jp-Cell"), index, pattern], timeout=timeout)
        text = self.output_text(index)
        match = re.search(pattern, text)
        assert match, text
        return text

    # -- widgets ------------------------------------------------------------------------
    def widget(self, css: str) -> Any:
        return self.page.locator(self.sel(css))

    def wait_widget(self, css: str, timeout: float = KERNEL_TIMEOUT) -> None:
        self.page.wait_for_selector(self.sel(css), timeout=timeout)

    def data(self, css: str, name: str) -> str | None:
        return self.page.locator(self.sel(css)).first.get_attribute(f"data-{name}")

    def wait_data(self, css: str, name: str, predicate: str, arg: Any = None,
                  timeout: float = UPDATE_TIMEOUT) -> str:
        """Wait until ``predicate`` (a JS expression over ``v``, the attribute's value, and
        ``arg``) holds for the first element matching ``css``; return the value."""
        handle = self.page.wait_for_function(
            f"""([sel, name, arg]) => {{
                const el = document.querySelector(sel);
                if (!el) return false;
                const v = el.getAttribute('data-' + name);
                return ({predicate}) ? (v ?? '') : false;
            }}""",
            arg=[self.sel(css), name, arg], timeout=timeout)
        return str(handle.json_value())

    def screenshot(self, name: str, **kwargs: Any) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), **kwargs)
        return path


# -- whole notebooks, as a user runs them (menus, dialogs, reloads) --------------------------
# (used by test_example_notebooks.py; additions only, the helpers above are unchanged)

def copy_notebook(lab: Lab, source: Path, name: str | None = None) -> str:
    """Put a copy of ``source`` (e.g. one of ``notebooks/``) into the server's root; return
    its name there."""
    name = name or source.name
    (lab.work / name).write_bytes(source.read_bytes())
    return name


def menu(nb: LabPage, *labels: str, timeout: float = KERNEL_TIMEOUT) -> None:
    """Click through JupyterLab's main menu: ``menu(nb, "Run", "Run All Cells")``. An item
    that is still disabled (the kernel is starting) is waited for."""
    page = nb.page
    page.locator(".lm-MenuBar-item", has_text=labels[0]).first.click()
    for label in labels[1:]:
        item = page.locator(
            ".lm-Menu:not(.lm-mod-hidden) .lm-Menu-item:not(.lm-mod-disabled)",
            has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(label)}$")),
        ).first
        item.wait_for(state="visible", timeout=timeout)
        item.click()


def accept_dialog(nb: LabPage, button: str, timeout: float = KERNEL_TIMEOUT) -> None:
    """Press ``button`` in the modal dialog Lab shows (e.g. "Restart")."""
    dialog = nb.page.locator(".jp-Dialog")
    dialog.wait_for(state="visible", timeout=timeout)
    dialog.locator(".jp-Dialog-button", has_text=button).first.click()
    dialog.wait_for(state="detached", timeout=timeout)


def arm_prompts(nb: LabPage) -> int:
    """Watch every code cell's prompt for the ``[*]`` Lab shows when it queues the cell (see
    :func:`wait_all_ran`); returns the number of code cells.

    Lab attaches a freshly loaded notebook's cells gradually: first wait until the page has
    as many code cells as the notebook file."""
    book = nbformat.read(nb.lab.work / nb.notebook, as_version=4)
    expected = sum(cell.cell_type == "code" for cell in book.cells)
    nb.page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n",
        arg=[nb.sel(".jp-Notebook .jp-CodeCell"), expected], timeout=LAB_TIMEOUT)
    return int(nb.page.evaluate(
        """(sel) => {
            const cells = [...document.querySelectorAll(sel)];
            for (const cell of cells) {
                const p = cell.querySelector('.jp-InputPrompt');
                if (p.__e2eObserver) p.__e2eObserver.disconnect();
                p.__e2eQueued = false;
                p.__e2eSeen = [p.textContent];
                p.__e2eObserver = new MutationObserver(() => {
                    p.__e2eSeen.push(p.textContent);
                    if (p.textContent.includes('*')) p.__e2eQueued = true;
                });
                p.__e2eObserver.observe(p, {childList: true, characterData: true, subtree: true});
            }
            return cells.length;
        }""", nb.sel(".jp-Notebook .jp-CodeCell")))


def wait_all_ran(nb: LabPage, timeout: float = LAB_TIMEOUT) -> None:
    """After :func:`arm_prompts` and a Run All: every code cell was queued since, and shows
    an execution count now (the whole notebook ran, top to bottom)."""
    try:
        nb.page.wait_for_function(
            """(sel) => [...document.querySelectorAll(sel)].every((cell) => {
                const p = cell.querySelector('.jp-InputPrompt');
                return p.__e2eQueued && /\\[\\d+\\]/.test(p.textContent);
            })""", arg=nb.sel(".jp-Notebook .jp-CodeCell"), timeout=timeout)
    except Exception as exc:
        prompts = nb.page.eval_on_selector_all(
            nb.sel(".jp-Notebook .jp-CodeCell .jp-InputPrompt"),
            "(ps) => ps.map((p) => [p.textContent.trim(), !!p.__e2eQueued, p.__e2eSeen,"
            " p.isConnected, p.closest('.jp-Cell')?.querySelector('.jp-OutputArea')?.textContent])")
        raise AssertionError(f"not every cell ran: (prompt, queued since) {prompts}") from exc


def run_all(nb: LabPage, *, restart: bool = False, timeout: float = LAB_TIMEOUT) -> None:
    """*Run ▸ Run All Cells*, or with ``restart`` *Kernel ▸ Restart Kernel and Run All
    Cells…* (confirmed), and wait until every code cell ran."""
    arm_prompts(nb)
    if restart:
        menu(nb, "Kernel", "Restart Kernel and Run All Cells…")
        accept_dialog(nb, "Restart")
    else:
        menu(nb, "Run", "Run All Cells")
    wait_all_ran(nb, timeout)


def restart_kernel(nb: LabPage) -> None:
    """*Kernel ▸ Restart Kernel…*, confirmed; returns once the restarted kernel is idle (the
    toolbar's indicator went through "restarting" or "starting", then says "idle")."""
    nb.page.evaluate(
        """(sel) => {
            const el = document.querySelector(sel);
            el.__e2eRestarted = false;
            el.__e2eObserver?.disconnect();
            el.__e2eObserver = new MutationObserver(() => {
                if (/restarting|starting/.test(el.dataset.status)) el.__e2eRestarted = true;
            });
            el.__e2eObserver.observe(el, {attributes: true, attributeFilter: ['data-status']});
        }""", nb.sel(".jp-Notebook-ExecutionIndicator"))
    menu(nb, "Kernel", "Restart Kernel…")
    accept_dialog(nb, "Restart")
    nb.page.wait_for_function(
        "(sel) => { const el = document.querySelector(sel);"
        " return el.__e2eRestarted && el.dataset.status === 'idle'; }",
        arg=nb.sel(".jp-Notebook-ExecutionIndicator"), timeout=KERNEL_TIMEOUT)


def code_cell_index(nb: LabPage, text: str) -> int:
    """The index (among all cells, as :meth:`LabPage.cells` counts) of the first code cell
    whose source contains ``text``."""
    index = nb.page.evaluate(
        """([sel, text]) => [...document.querySelectorAll(sel)].findIndex((cell) =>
            cell.classList.contains('jp-CodeCell')
            && (cell.querySelector('.jp-InputArea')?.textContent ?? '').includes(text))""",
        [nb.sel(".jp-Notebook .jp-Cell"), text])
    assert index >= 0, f"no code cell with {text!r}"
    return int(index)


def save(nb: LabPage) -> None:
    """Save (Ctrl+S in command mode) and wait until Lab says the notebook is clean."""
    nb.cells().nth(0).locator(".jp-InputPrompt").click()
    nb.page.keyboard.press("Control+s")
    nb.page.wait_for_function(
        "() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
        timeout=LAB_TIMEOUT)


def reload(nb: LabPage) -> None:
    """Reload the page (Lab may ask whether to leave: yes) and wait for the kernel."""
    nb.page.once("dialog", lambda dialog: dialog.accept())
    nb.page.reload(timeout=LAB_TIMEOUT)
    nb.lab.wait_for_session(nb.notebook, nb.page)
    nb.wait_idle(timeout=LAB_TIMEOUT)


def whoami(nb: LabPage) -> dict[str, Any]:
    """The Jupyter identity of the page's login (``/api/me``): username, display_name, ..."""
    me = nb.page.evaluate(
        """async (url) => (await (await fetch(url, {credentials: 'same-origin'})).json())""",
        nb.lab.server.url + "api/me")
    return dict(me["identity"])
