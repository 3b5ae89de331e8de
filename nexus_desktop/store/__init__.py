"""APSW storage: one SQLite file in the user data folder, one connection per thread."""
