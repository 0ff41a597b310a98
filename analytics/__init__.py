"""Viewtally: exact, private video view counts for a video site."""
