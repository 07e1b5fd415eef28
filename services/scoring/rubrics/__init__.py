"""Rubric documents shipped with scoring (the starter rubric)."""
