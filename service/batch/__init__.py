"""Azure ML's batch-deployment contract (``init()`` / ``run(mini_batch)``) run locally: ``python -m service batch``."""
