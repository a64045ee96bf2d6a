"""Vercel's entry point: the FastAPI app, configured from the environment.

pyproject.toml names it (`[tool.vercel] entrypoint = "api.index:app"`), so
Vercel's FastAPI preset serves every path through it, /docs and /openapi.json
included, with no rewrites. tests/test_vercel.py imports it the way Vercel does.
"""

import logging

from cascadian.web.app import create_app

# Vercel keeps what a function writes to stderr: log which store starts, and
# every warning, without httpx's line per request. The cascadian logger's own
# level holds even if the runtime configured the root logger first.
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("cascadian").setLevel(logging.INFO)
logging.getLogger("httpx").setLevel(logging.WARNING)

app = create_app()
