"""The simulated world used by tests, the bench and the lab command (standard library only)."""
