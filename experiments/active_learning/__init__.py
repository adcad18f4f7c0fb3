"""Active learning experiments (Ducoffe 2018, part I and ch. 9)."""
