"""The store: one module per port, each naming its SQL functions once, composed into
one SqlStore over two transports (psycopg; PostgREST), and the database."""
