"""Sentence embeddings of messages, facts and summaries, and the vector index over them."""
