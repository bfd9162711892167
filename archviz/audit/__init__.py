"""The registry audit trail: what registries said was pushed, pulled, mounted and deleted, and by whom.

`ingest` writes it (the webhook's only way in), `query` reads it (filters, keyset pages, exports), `charts` counts
it for the audit page's charts, `retention` prunes it. Nothing here knows HTTP: the webhook (archviz.hooks) and the
views hand it parsed values.
"""
