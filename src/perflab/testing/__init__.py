"""Helpers for testing Django apps and perflab itself against real services."""
