"""Causal language model: loading, prompts, token budgets and streaming generation."""
