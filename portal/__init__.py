"""aicommons portal: the composition root and everything HTTP."""

__version__ = "0.1.0"
