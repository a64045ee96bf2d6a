"""The HTTP layer (FastAPI): routes translate HTTP to the tick and control services."""
