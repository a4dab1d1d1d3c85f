"""Synthetic homes: HomeIQ's built-in data source (`homeiq-trainer generate`)."""
