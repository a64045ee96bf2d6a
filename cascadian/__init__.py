"""cascadian: runs users' trading strategies on their schedules."""
