"""A page's own script on a Hub user's server, as the README's "From a browser page" shows:
the Hub login cookie plus the ``_xsrf`` cookie's value in ``X-XSRFToken``, no token.

JupyterHub (4.1 and later) also checks the XSRF token on cookie-authenticated GETs that are
not navigations, so a long-polling GET without it looks unauthenticated: the hub answers
with an Engine.IO JSON error, and the same request with the header opens a session.
"""

from __future__ import annotations

import json
from typing import Any

PROBE = """async (withXsrf) => {
  const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
  const xsrf = document.cookie.match('\\\\b_xsrf=([^;]*)\\\\b')?.[1];
  const headers = withXsrf && xsrf ? {'X-XSRFToken': decodeURIComponent(xsrf)} : {};
  const url = config.jupyterSio.socketioPath + '?EIO=4&transport=polling';
  const open = await fetch(url, {headers});
  const result = {open: open.status, body: await open.text()};
  if (open.status !== 200) return result;
  const sid = JSON.parse(result.body.slice(1)).sid;
  const post = await fetch(`${url}&sid=${sid}`, {method: 'POST', headers, body: '40'});
  result.post = [post.status, await post.text()];
  const poll = await fetch(`${url}&sid=${sid}`, {headers});
  result.poll = [poll.status, await poll.text()];
  return result;
}"""


def test_a_page_script_polls_with_the_login_cookie_and_the_xsrf_token(login: Any) -> None:
    _, page = login("alice")
    refused = page.evaluate(PROBE, False)
    assert refused["open"] == 403
    assert json.loads(refused["body"])["message"] == "Forbidden"  # Engine.IO JSON, not HTML
    accepted = page.evaluate(PROBE, True)
    assert accepted["open"] == 200 and accepted["body"].startswith('0{"sid":')
    assert accepted["post"] == [200, "ok"]
    status, body = accepted["poll"]
    assert status == 200 and body.startswith('40{"sid":')
