"""Demo data for development and the benchmark: `looklook seed` fills an empty catalog.

`words` holds the Chinese vocabulary, `catalog` assembles a fixed data set from
it (no I/O, the same every time), `accounts` and `seed` write it to the users
and travel databases. Not part of the production image: demo accounts share
one published password.
"""
