"""Local stand-ins for press sites, for tests, benchmarks and demos; never part of the wheel.

Run from a checkout (the repository root on sys.path): `python -m devsites.mirror`.
"""
