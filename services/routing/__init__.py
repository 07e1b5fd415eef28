"""Routing service."""
