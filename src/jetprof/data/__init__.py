"""Stage 1-2, the jets: generate (Pythia 8 + FastJet) or download JetClass, write the
manifest, and check every file before anything trains on it."""
