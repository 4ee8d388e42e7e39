"""custos: true customer information, kept from leaking."""

__version__ = "0.1.0"
