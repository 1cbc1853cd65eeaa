"""Presentation: the one formatter, labels and texts in English and Khmer, charts and the donor report."""
