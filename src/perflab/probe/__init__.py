"""The probe: a server-side recorder cheap enough to leave on under load."""
