"""Medications views by subject: prescriptions, rounds, chart, stock, prints."""
