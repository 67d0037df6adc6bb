"""The Dagster definitions by domain: one sub-package per layer, each its assets and checks.

Every layer builds from the deployment's Settings (windows, thresholds), so each exposes a
`*_defs(settings)` function and smart_trader.definitions merges them: the explicit equivalent
of `dg.load_from_defs_folder` for definitions that depend on settings.
"""
