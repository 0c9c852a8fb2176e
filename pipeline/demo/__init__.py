"""The bundled sample: a deterministic generator of a listener's history in Spotify's format."""
