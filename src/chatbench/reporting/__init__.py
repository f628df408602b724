"""Reporting: results as pandas frames and exports (``results``); tables, figures and the HTML
report (``report``)."""
