"""The app's screens: open file, set up, training, results, and their dialogs."""
