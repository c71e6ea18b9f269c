"""Seeded data generators, one family per module."""
