"""The store: one SqlStore over two transports (psycopg; PostgREST), and the database."""
