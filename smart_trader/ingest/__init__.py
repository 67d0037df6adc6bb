"""Turning API answers into the bronze tables (pure: no I/O, no Dagster).

Shared parts: `ledger` (outcomes, per-endpoint counts, rejections, FetchResult), `fields` (field
readers that raise Rejection naming the field), `paging` (PagedCollector: pages of a sorted list
→ fresh rows, duplicates across pages accounted for). `fetch_plan` says which swaps to fetch.

One module per endpoint: `token_list`, `holders`, `swaps`, `prices`. Each holds the endpoint's
path constant, its request params where fixed, its parser (record → row, raising Rejection), its
collector (a PagedCollector, or a plain one for unpaged answers) with the stop rule paging
consults, and the builder of its FetchResult (via `ledger.fetch_result`).

To add an endpoint: write ingest/<endpoint>.py after that pattern (its tests in
smart_trader_tests/test_records_<endpoint>.py), add the client method that pages it in
resources/birdeye.py (or helius.py), and the asset that calls it in defs/<layer>/assets.py
(with its TableSpec in schemas.py if it is a new table).
"""
