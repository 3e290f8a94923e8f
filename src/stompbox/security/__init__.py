"""Authentication, authorization and the checks in front of them, without I/O.

Verifiers (users file, JWT, client certificates), access rules, origin policies and
per-address throttles are plain objects here; :mod:`stompbox.server` applies them to
connections, and :mod:`stompbox.app` lets applications add their own. See
docs/security.md.
"""

from .acl import AccessControl, AccessDecision, AccessRule, Action, allow, deny, rules_from_toml
from .authn import Credentials, SecurityPolicy, principal_of
from .config import SecurityConfig
from .origins import OriginPolicy
from .passwords import UsersFile, hash_password
from .principal import AuthenticationFailed, Principal
from .tokens import TokenVerifier, find_token

__all__ = [
    "AccessControl",
    "AccessDecision",
    "AccessRule",
    "Action",
    "AuthenticationFailed",
    "Credentials",
    "OriginPolicy",
    "Principal",
    "SecurityConfig",
    "SecurityPolicy",
    "TokenVerifier",
    "UsersFile",
    "allow",
    "deny",
    "find_token",
    "hash_password",
    "principal_of",
    "rules_from_toml",
]
