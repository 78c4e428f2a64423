"""pzjudge debate layer."""
