"""The web interface's views, one module per section: each has ``router(ctx)``."""
