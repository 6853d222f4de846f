"""The parts of ``benchmarks/generator.py``: servers, generators, measurement, table."""
