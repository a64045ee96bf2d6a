"""Signing in to the console with ADMIN_API_KEY, and out (session.py has the rules).

GET/POST /console/sign-in, POST /console/sign-out
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from cascadian.web.console.base import page, read_form, router, sessions_of
from cascadian.web.console.session import (
    COOKIE,
    COOKIE_PATH,
    SESSION_SECONDS,
    check_same_origin,
    safe_next,
)

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
    check_same_origin(request)
    form = await read_form(request)
    target = safe_next(form.get("next"))
    client = request.client.host if request.client else "?"
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
