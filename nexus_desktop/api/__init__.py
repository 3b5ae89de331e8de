"""The opt-in localhost HTTP API: status, Prometheus metrics, chat turns and learning
control for scripts and monitoring (no Qt)."""
