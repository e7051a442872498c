"""The local Mogplex API emulator: a real HTTP server on loopback with the real rules."""
