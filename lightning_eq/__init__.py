"""lightning-eq: from a description of a sound to a 40-band equaliser curve."""

__version__ = "0.1.0"
