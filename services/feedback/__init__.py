"""Feedback service."""
