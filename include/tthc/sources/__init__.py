"""The three source systems: a deterministic province simulator and the APIs that serve its stores."""
