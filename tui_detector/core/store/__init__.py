"""The review store: past runs, the analyst's verdicts, suppression scopes and a language model's
triage suggestions, in one SQLite file.

``db`` is the database (standard library only), ``fingerprint`` names rows so that verdicts
find them again, ``review`` reads and writes verdicts and runs, ``session`` is the store's part
in one detection run.
"""
