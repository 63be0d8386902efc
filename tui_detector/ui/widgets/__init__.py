"""Widgets of the app: the virtual results table, the score histogram, the loss chart."""
