"""Screens pushed over the main one: help (and, later, compare/bench results)."""
