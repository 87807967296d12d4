"""commsim: an agent-based simulator of commissioning regimes."""
