"""Scoring: reading a user's answer (``choice``, the accept rules in ``answers``), judge
rubrics (``judges``), per-group metrics (``metrics``) and statistics with CIs (``stats``)."""
