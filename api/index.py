"""Vercel's entry point: the FastAPI app, configured from the environment.

pyproject.toml names it (`[tool.vercel] entrypoint = "api.index:app"`), so
Vercel's FastAPI preset serves every path through it, /docs and /openapi.json
included, with no rewrites. tests/test_vercel.py imports it the way Vercel does.
"""

import logging

from cascadian import logs
from cascadian.config import get_settings
from cascadian.web.app import create_app

# Vercel keeps what a function writes to stderr: log which store starts, and
# every warning, without httpx's line per request, as text or JSON
# (CASCADIAN_LOG_FORMAT). The cascadian logger's own level holds even if the
# runtime configured the root logger first.
if get_settings().log_format == "json":
    logs.configure(logging.INFO, "json")
else:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("cascadian").setLevel(logging.INFO)

app = create_app()
