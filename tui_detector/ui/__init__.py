"""The Textual app. Talks to the headless core through its public names only."""
