"""stompbox: a STOMP 1.0/1.1/1.2 broker, protocol core and tools for Python."""

__version__ = "0.1.0"
