"""Built-in defenses. Importing this package registers them (``@register_defense``)."""

from . import interleave, safelora  # noqa: F401
from . import anchor, drift, kl, ldifs  # noqa: F401
