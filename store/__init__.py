"""pzjudge store layer."""
