"""Leaderboards from the results store: every number is an aggregate of recorded cells."""
