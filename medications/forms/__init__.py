"""Medications forms by subject: prescriptions, rounds, stock."""
