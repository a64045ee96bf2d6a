"""Who may use the console: ADMIN_API_KEY exchanged for a signed session cookie,
CSRF tokens on every change, and the key never shown, put in a URL or logged."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cascadian.store.sql_store import SqlStore
from cascadian.web.console.session import COOKIE, SESSION_SECONDS, Sessions, safe_next
from tests.api_client import KEY
from tests.factories import add_strategy, strategy
from tests.web.console.helpers import ORIGIN, console_client, settings, sign_in

PRODUCTION_KEY = "a-production-admin-key-of-32-chars"


def running(db: Any) -> Any:
    return add_strategy(db, next_execution_at=datetime.now(UTC) + timedelta(hours=1))


async def test_a_page_without_the_cookie_sends_the_browser_to_sign_in(
    store: SqlStore, db: Any
) -> None:
    async with console_client(store) as c:
        reply = await c.get("/console/strategies?filter=failing")
    assert reply.status_code == 303
    assert reply.headers["location"] == (
        "/console/sign-in?next=%2Fconsole%2Fstrategies%3Ffilter%3Dfailing"
    )


async def test_the_apis_bearer_key_does_not_open_the_console(store: SqlStore, db: Any) -> None:
    async with console_client(store) as c:
        reply = await c.get("/console", headers={"Authorization": f"Bearer {KEY}"})
    assert reply.status_code == 303


async def test_a_change_without_the_cookie_is_refused_and_changes_nothing(
    store: SqlStore, db: Any
) -> None:
    sid = running(db)
    async with console_client(store) as c:
        reply = await c.post(f"/console/strategies/{sid}/pause", data={"csrf": "x"})
    assert reply.status_code == 401 and "signed out" in reply.text
    assert strategy(db, sid)["status"] == "running"


async def test_a_wrong_key_is_refused_without_a_cookie_or_an_echo(
    store: SqlStore, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with console_client(store) as c:
        reply = await c.post("/console/sign-in", data={"key": "guess-" + KEY})
    assert reply.status_code == 401 and "not the ADMIN_API_KEY" in reply.text
    assert COOKIE not in reply.headers.get("set-cookie", "")
    assert "guess-" not in reply.text and "guess-" not in caplog.text
    assert "sign-in refused" in caplog.text


async def test_signing_in_sets_a_signed_httponly_strict_cookie_that_never_holds_the_key(
    store: SqlStore, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with console_client(store) as c:
        reply = await c.post("/console/sign-in", data={"key": KEY, "next": "/console/paper"})
        page = await c.get("/console/paper")
    assert reply.status_code == 303 and reply.headers["location"] == "/console/paper"
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console", f"max-age={SESSION_SECONDS}"} <= (
        attributes
    )
    assert "secure" not in attributes  # development serves plain http
    assert KEY not in cookie and KEY not in page.text and KEY not in caplog.text
    assert page.status_code == 200


async def test_in_production_the_cookie_is_secure(store: SqlStore, db: Any) -> None:
    env = {
        "ADMIN_API_KEY": PRODUCTION_KEY,
        "CRON_SECRET": PRODUCTION_KEY,
        "ENVIRONMENT": "production",
    }
    async with console_client(store, **env) as c:
        reply = await c.post("/console/sign-in", data={"key": PRODUCTION_KEY})
    assert "secure" in {a.strip().lower() for a in reply.headers["set-cookie"].split(";")}


async def test_production_without_a_key_refuses_the_console(store: SqlStore, db: Any) -> None:
    async with console_client(
        store, ADMIN_API_KEY=None, CRON_SECRET=PRODUCTION_KEY, ENVIRONMENT="production"
    ) as c:
        form = await c.get("/console/sign-in")
        page = await c.get("/console")
        post = await c.post("/console/sign-in", data={"key": ""})
    assert (form.status_code, page.status_code, post.status_code) == (503, 503, 503)
    assert "ADMIN_API_KEY is not set" in page.text


async def test_development_without_a_key_opens_with_a_warning(store: SqlStore, db: Any) -> None:
    async with console_client(store, ADMIN_API_KEY=None) as c:
        form = await c.get("/console/sign-in")
        await c.post("/console/sign-in", data={})
        page = await c.get("/console")
    assert 'name="key"' not in form.text
    assert page.status_code == 200 and "development only" in page.text


async def test_a_change_without_its_csrf_token_is_refused(store: SqlStore, db: Any) -> None:
    sid = running(db)
    async with console_client(store) as c:
        csrf = await sign_in(c)
        missing = await c.post(f"/console/strategies/{sid}/pause", data={})
        forged = csrf[:-1] + ("1" if csrf.endswith("0") else "0")  # one hex digit off
        wrong = await c.post(f"/console/strategies/{sid}/pause", data={"csrf": forged})
    assert missing.status_code == 403 and wrong.status_code == 403
    assert strategy(db, sid)["status"] == "running"


async def test_a_change_posted_from_another_site_is_refused_even_with_the_token(
    store: SqlStore, db: Any
) -> None:
    sid = running(db)
    async with console_client(store) as c:
        csrf = await sign_in(c)
        other = await c.post(
            f"/console/strategies/{sid}/pause",
            data={"csrf": csrf},
            headers={"Origin": "https://evil.example"},
        )
        same = await c.post(
            f"/console/strategies/{sid}/pause", data={"csrf": csrf}, headers={"Origin": ORIGIN}
        )
    assert other.status_code == 403 and same.status_code == 303
    assert strategy(db, sid)["status"] == "paused"


async def test_signing_out_clears_the_cookie(store: SqlStore, db: Any) -> None:
    async with console_client(store) as c:
        csrf = await sign_in(c)
        reply = await c.post("/console/sign-out", data={"csrf": csrf})
        after = await c.get("/console")
    assert reply.status_code == 303 and reply.headers["location"] == "/console/sign-in"
    assert (
        f'{COOKIE}=""' in reply.headers["set-cookie"] and "Max-Age=0" in reply.headers["set-cookie"]
    )
    assert after.status_code == 303


async def test_a_tampered_expired_or_old_keys_cookie_is_no_session(
    store: SqlStore, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = Sessions(settings())
    good = sessions.issue()
    with monkeypatch.context() as m:  # itsdangerous stamps cookies with time.time()
        m.setattr(time, "time", lambda: 1_000_000_000.0)
        expired = sessions.issue()
    other_key = Sessions(settings(ADMIN_API_KEY="another-admin-key")).issue()
    tampered = good.replace(good.split(".")[0], good.split(".")[0][::-1])
    assert sessions.read(good) is not None
    for cookie in (tampered, expired, other_key):
        assert sessions.read(cookie) is None
    async with console_client(store) as c:
        c.cookies.set(COOKIE, other_key, path="/console")
        assert (await c.get("/console")).status_code == 303


async def test_every_console_answer_carries_a_strict_content_security_policy(
    store: SqlStore, db: Any
) -> None:
    async with console_client(store) as c:
        form = await c.get("/console/sign-in")
        redirect = await c.get("/console")
    for reply in (form, redirect):
        assert "script-src 'self'" in reply.headers["content-security-policy"]
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/console/strategies?filter=failing", "/console/strategies?filter=failing"),
        ("https://evil.example/console", "/console"),
        ("//evil.example/console", "/console"),
        ("/api/strategies", "/console"),
        (None, "/console"),
    ],
)
def test_after_signing_in_the_browser_goes_only_to_a_console_page(
    target: str | None, expected: str
) -> None:
    assert safe_next(target) == expected


async def test_the_consoles_css_and_script_are_served_by_the_app(store: SqlStore, db: Any) -> None:
    async with console_client(store) as c:
        css = await c.get("/console/static/console.css")
        js = await c.get("/console/static/console.js")
        form = await c.get("/console/sign-in")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert js.status_code == 200 and "confirm" in js.text
    # Relative, so a proxy's scheme (https in front, http behind) cannot break them.
    assert 'href="/console/static/console.css"' in form.text
    assert "http://" not in form.text and "https://" not in form.text


async def test_a_sign_in_posted_from_another_site_is_refused(store: SqlStore, db: Any) -> None:
    async with console_client(store) as c:
        reply = await c.post(
            "/console/sign-in", data={"key": KEY}, headers={"Origin": "https://evil.example"}
        )
        form = await c.get("/console/sign-in")
    assert reply.status_code == 403 and COOKIE not in reply.headers.get("set-cookie", "")
    assert 'method="post" action="/console/sign-in"' in form.text  # never the key in a URL
