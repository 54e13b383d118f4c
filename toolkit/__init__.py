"""Mail-settings diagnostics for Jupyter: checks of IMAP and SMTP server entries.

The layers, from the bottom: `toolkit.settings` (typed values, no I/O), the
probes (network I/O), the analysis (`toolkit.checks` and friends, pure
functions returning findings) and the presentation (widgets, tables, the CLI).
"""

__version__ = "0.1.0"
