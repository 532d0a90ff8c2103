"""The content pipeline (seed 002): Twitch clips and GitHub activity in, matched, scored
and turned into recaps."""
