"""Pure domain code: no Django, no I/O. Importable by engines, loaders and tests alike."""
