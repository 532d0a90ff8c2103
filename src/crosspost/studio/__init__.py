"""The clip studio: projects, highlight detection, clips, renders and brand kits."""
