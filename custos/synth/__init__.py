"""Synthetic books: realistic customer information of a Chinese life insurer with injected,
documented defects (docs/synth.md). `generate_book` is the entry point."""

from custos.synth.generator import generate_book
from custos.synth.rates import CHECKS, DefectRates

__all__ = ["CHECKS", "DefectRates", "generate_book"]
