"""Scoring service."""
