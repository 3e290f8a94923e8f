"""Authentication, authorization and the checks in front of them, without I/O.

Verifiers (users file, JWT, client certificates), access rules and origin policies are
plain objects here; :mod:`stompbox.server` applies them to connections, and
:mod:`stompbox.app` lets applications add their own. See docs/security.md.
"""

from .principal import AuthenticationFailed, Principal

__all__ = ["AuthenticationFailed", "Principal"]
