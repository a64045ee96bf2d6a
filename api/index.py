"""Vercel's entry point: the FastAPI app, configured from the environment."""

from cascadian.web import create_app

app = create_app()
