"""Test support written once: the CLI runner, stand-in notebooks, recorded runs, a server warehouse."""
