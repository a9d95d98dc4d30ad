"""voxroute's benchmarks: each a ``python -m benchmarks.<name>`` command that prints a table and writes JSON."""

# The independent sets of benchmarks/router, by the name a table gives them: {name: file stem}.
INDEPENDENT_SETS = {"single": "fresh_utterances", "compound": "compound", "follow-up": "followups", "timers": "timers"}
