"""lossmatch: entity matching under heavy class imbalance."""

__version__ = "0.1.0"
