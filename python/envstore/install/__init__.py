"""Placing packages into a prefix: a wheel's files, its scripts, its bytecode, and a prefix assembled from typed parts."""
