"""The independent cross-check of the KEZ test vectors, as a package: the primitives written
from the RFCs and the SPEC (one module each), the shared report, and one module per vector
file under `checks` (run by `spec/crosscheck/check_vectors.py`).
"""
