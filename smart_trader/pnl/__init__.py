"""PnL engine (FIFO, silver) and scoring (gold): pure polars, no Dagster."""
