"""The persistent session and what the model is given to read each turn."""
