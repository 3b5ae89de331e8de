"""Budgets, throttling and protection of the desktop: circuit breakers, activity, limits."""
