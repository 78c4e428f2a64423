"""pzjudge tui layer."""
