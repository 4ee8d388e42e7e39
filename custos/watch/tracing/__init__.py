"""Leak tracing (docs/watch.md, "Leak tracing"): given a leaked customer list, who could have leaked it.

- `leakfile`  reading a dirty CSV/XLSX: column names in any language and order, masked values
- `matching`  leaked rows → the book's parties in DuckDB (masks as patterns, one person or none)
- `guilt`     Papadimitriou & Garcia-Molina's guilt model, with the leaker drawing from its holdings
- `engine`    the trace over any inputs: staff reads (the access history), partners' sales, extractions
- `service`   the live book and history, the leak case (`LeakCase`), its audit and PDF
- `bench`     simulated scenarios for `custos bench watch`
"""
