"""The console's sign-in: ADMIN_API_KEY exchanged for a signed session cookie, and
the CSRF token every state-changing form carries.

The cookie holds only a random session id, signed and timestamped (itsdangerous)
with a key derived from ADMIN_API_KEY, so it never carries the key, it expires
after SESSION_SECONDS, and changing the key signs every session out. It is
HttpOnly, SameSite=Strict, scoped to /console, and Secure in production. The CSRF
token is an HMAC of the session id: a form from another site cannot know it, and
it dies with the session. POSTs are also refused when the browser says they come
from another origin (which covers the sign-in form, before any session exists).

Without ADMIN_API_KEY, development signs in without a key (the API also lets
such requests through, with a warning); production refuses, as the API does.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request

from cascadian.config import Settings

log = logging.getLogger(__name__)

COOKIE = "cascadian_console"
COOKIE_PATH = "/console"
SESSION_SECONDS = 12 * 3600


class SignInRequired(Exception):
    """No valid session: a page sends the browser to the sign-in form."""


class Refused(Exception):
    """A request the console will not serve (HTTP status, and why in plain words)."""

    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


@dataclass(frozen=True)
class ConsoleSession:
    sid: str
    csrf: str


class Sessions:
    """Issues and checks session cookies and CSRF tokens for one app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        key = settings.admin_api_key
        # No key (development only): sessions signed with a key of this process's.
        root = key.get_secret_value().encode() if key is not None else secrets.token_bytes(32)
        signing = hmac.new(root, b"cascadian console session v1", hashlib.sha256).digest()
        self._cookies = URLSafeTimedSerializer(signing, salt="cascadian.console.session")
        self._csrf_key = hmac.new(signing, b"csrf", hashlib.sha256).digest()

    @property
    def needs_key(self) -> bool:
        return self.settings.admin_api_key is not None

    def check_configured(self) -> None:
        if self.settings.admin_api_key is None and self.settings.is_production:
            raise Refused(
                503, "ADMIN_API_KEY is not set: the console refuses to open in production"
            )

    def key_matches(self, given: str) -> bool:
        """Constant-time check of a key typed into the sign-in form."""
        key = self.settings.admin_api_key
        if key is None:
            return not self.settings.is_production
        return hmac.compare_digest(given.strip().encode(), key.get_secret_value().encode())

    def issue(self) -> str:
        """A new session's cookie value."""
        return str(self._cookies.dumps({"sid": secrets.token_urlsafe(18)}))

    def read(self, cookie: str | None) -> ConsoleSession | None:
        if not cookie:
            return None
        try:
            data = self._cookies.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:  # also SignatureExpired
            return None
        sid = data.get("sid") if isinstance(data, dict) else None
        if not isinstance(sid, str):
            return None
        return ConsoleSession(sid, self.csrf_token(sid))

    def csrf_token(self, sid: str) -> str:
        return hmac.new(self._csrf_key, sid.encode(), hashlib.sha256).hexdigest()

    def session(self, request: Request) -> ConsoleSession:
        """The request's session, or SignInRequired."""
        self.check_configured()
        found = self.read(request.cookies.get(COOKIE))
        if found is None:
            raise SignInRequired
        return found

    def check_post(self, request: Request, form: dict[str, str]) -> ConsoleSession:
        """A state-changing POST: same origin, a session, and its CSRF token."""
        self.check_configured()
        check_same_origin(request)
        found = self.read(request.cookies.get(COOKIE))
        if found is None:
            raise Refused(401, "You are signed out. Sign in again, then repeat the action.")
        if not hmac.compare_digest(form.get("csrf", "").encode(), found.csrf.encode()):
            log.warning("console: refused a POST to %s without its CSRF token", request.url.path)
            raise Refused(403, "This form has expired or did not come from the console.")
        return found


def check_same_origin(request: Request) -> None:
    """Refuse a POST the browser says came from another site. A request with neither
    Origin nor Referer (not a browser) still needs the session and its token."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return
    if source == "null" or urlsplit(source).netloc != request.headers.get("host"):
        log.warning("console: refused a cross-origin POST to %s", request.url.path)
        raise Refused(403, "This form did not come from the console.")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only, never another site."""
    if not target or not target.startswith(COOKIE_PATH) or target.startswith("//"):
        return COOKIE_PATH
    return COOKIE_PATH if "\\" in target or "://" in target else target
