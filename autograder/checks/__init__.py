"""Hidden checks, one module per notebook; each registers its tests with ``@points``."""
