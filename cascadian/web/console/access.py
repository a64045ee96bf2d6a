"""Signing in to the console with ADMIN_API_KEY, and out (session.py has the rules;
throttle.py how often one client may try).

GET/POST /console/sign-in, POST /console/sign-out
"""

from __future__ import annotations

import logging
import math

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from cascadian.web.console.base import page, read_form, refusal, router, sessions_of
from cascadian.web.console.session import (
    COOKIE,
    COOKIE_PATH,
    SESSION_SECONDS,
    check_same_origin,
    safe_next,
)
from cascadian.web.console.throttle import SignInThrottle

log = logging.getLogger(__name__)


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    sessions = sessions_of(request)
    sessions.check_configured()
    target = safe_next(request.query_params.get("next"))
    if sessions.read(request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(target, status_code=303)
    return page(request, "sign_in.html", next=target, needs_key=sessions.needs_key)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    sessions = sessions_of(request)
    sessions.check_configured()
    client = request.client.host if request.client else "?"
    throttle: SignInThrottle = request.app.state.console_sign_ins
    verdict = throttle.attempt(client)
    if verdict.wait:
        if verdict.first_refusal:
            log.warning(
                "console: too many sign-in attempts from %s; refusing them (429) and not "
                "logging each until one is let through",
                client,
            )
        seconds = math.ceil(verdict.wait)
        message = f"Too many sign-in attempts from your address. Try again in {seconds} s."
        throttled = refusal(request, 429, message)
        throttled.headers["Retry-After"] = str(seconds)
        return throttled
    check_same_origin(request)
    form = await read_form(request)
    target = safe_next(form.get("next"))
    if not sessions.key_matches(form.get("key", "")):
        log.warning("console: sign-in refused (wrong key) from %s", client)
        return page(
            request,
            "sign_in.html",
            401,
            next=target,
            needs_key=True,
            error="That is not the ADMIN_API_KEY.",
        )
    log.info("console: signed in from %s", client)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        sessions.issue(),
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=sessions.settings.is_production,
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    sessions_of(request).check_post(request, await read_form(request))
    response = RedirectResponse(f"{COOKIE_PATH}/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response
