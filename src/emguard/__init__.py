"""emguard: induce, measure, prevent and explain emergent misalignment."""

__version__ = "0.1.0"
