"""Intake: from a field team's workbook to clean, validated rows in the store, every row and column accounted for."""
