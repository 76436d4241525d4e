"""Procedural task generators, one category per file; each builds a world, its tools and tasks per level."""
