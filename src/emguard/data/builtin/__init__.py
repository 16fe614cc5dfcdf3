"""Built-in datasets. Importing this package registers them (see ``registry``)."""

from . import code  # noqa: F401
