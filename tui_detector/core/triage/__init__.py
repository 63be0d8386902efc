"""Optional triage of flagged rows by a language model behind an OpenAI-compatible endpoint.

Nothing here runs unless the user names an endpoint: ``config`` reads and checks it (loopback
only unless allowed otherwise), ``prompt`` turns one anomaly into the messages sent, ``answer``
checks what comes back, ``client`` talks HTTP (``httpx``, an optional extra), ``cache`` keeps
the answers in the review store and ``runner`` ties them together for ``detect`` and the app.
A suggestion is advice: it never changes a score, a rank or a verdict.
"""
