"""``make demo``: a national synthetic ARRS data set, loaded through the public API (the gateway).

- :mod:`tools.demo.generate`: the organisations, posts, claims, job plans and KPIs (pure, seeded);
- :mod:`tools.demo.series`: the weekly workload and monthly list sizes of each practice (pure, seeded),
  with the known effect injected;
- :mod:`tools.demo.state`: the state file that makes a load resumable;
- :mod:`tools.demo.load`: the API calls, as the clients the demo creates;
- ``python -m tools.demo``: the command (``--help``).
"""
