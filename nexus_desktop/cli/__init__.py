"""The command line: terminal chat, one-shot questions, settings and diagnostics."""
