"""camera-ingest: takes frames from cameras (push and poll), keeps them in a durable Redis outbox,
and delivers each one to the classifier and then the aggregator, at least once."""
