"""Headless core of anomaly-tui: reading files, column roles, preprocessing, models, explanations.

Nothing here imports Textual or Rich, and TensorFlow is imported only inside the functions that
train a network.
"""
