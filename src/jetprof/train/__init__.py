"""Stage 3-4: train with the ``weaver`` CLI (seeded) and evaluate its predictions."""
