"""Learning while idle: the online LoRA learner, its examples, replay, teacher and canary."""
