"""Shot detectors that need torch (the torch-free ones live in ``app.pipeline``)."""
