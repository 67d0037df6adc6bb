"""Real-time monitoring's receiving half: the Helius webhook receiver, its spool and flusher."""
