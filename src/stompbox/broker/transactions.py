"""Transactions: what a session's open transactions hold until COMMIT or ABORT.

A transaction holds a session's SEND and ACK/NACK frames until COMMIT carries them out in
order, or ABORT drops them. It is bounded by ``max_transaction_frames`` and, across a
session's open transactions, by ``max_transaction_bytes`` (held bodies are charged to
the memory budget). The broker checks each frame as it arrives (so that what COMMIT
would refuse is refused now) and carries out a committed one; these functions keep the
books, and need nothing else of the broker's.
"""

from __future__ import annotations

from stompbox.protocol.frames import Frame

from .config import BrokerConfig
from .errors import BrokerError
from .memory import MESSAGE_OVERHEAD, MemoryBudget
from .session import Session, Transaction

__all__ = ["begin", "close_all", "end", "hold", "open_transaction"]


def begin(session: Session, tx_id: str, config: BrokerConfig) -> None:
    """Open transaction ``tx_id``, within ``max_transactions``."""
    if tx_id in session.transactions:
        raise BrokerError("transaction already open", f"transaction {tx_id!r} is open")
    if len(session.transactions) >= config.max_transactions:
        raise BrokerError(
            f"max_transactions limit of {config.max_transactions} exceeded",
            "commit or abort a transaction before beginning another",
        )
    session.transactions[tx_id] = Transaction(tx_id)


def open_transaction(session: Session, tx_id: str) -> Transaction:
    """The session's open transaction ``tx_id``; refused if there is none."""
    tx = session.transactions.get(tx_id)
    if tx is None:
        raise BrokerError("unknown transaction", f"no open transaction {tx_id!r}")
    return tx


def end(session: Session, tx_id: str, memory: MemoryBudget) -> Transaction:
    """Close transaction ``tx_id`` (for COMMIT or ABORT) and return it with its frames."""
    tx = open_transaction(session, tx_id)
    _end(session, tx, memory)
    return tx


def close_all(session: Session, memory: MemoryBudget) -> None:
    """Drop a closing session's open transactions."""
    if session.transactions:
        memory.release(sum(tx.size for tx in session.transactions.values()))
        session.transactions.clear()


def hold(
    session: Session,
    tx: Transaction,
    frame: Frame,
    config: BrokerConfig,
    memory: MemoryBudget,
) -> None:
    """Keep a checked SEND, ACK or NACK for COMMIT; a transaction past its limits is
    aborted, and the frame refused."""
    if frame.command == "SEND":
        size = len(frame.body) + MESSAGE_OVERHEAD
        limit = config.max_transaction_bytes
        held = sum(t.size for t in session.transactions.values())
        if held + size > limit:
            _end(session, tx, memory)
            raise BrokerError(
                f"max_transaction_bytes limit of {limit} exceeded",
                f"this connection's open transactions would hold {held + size} bytes; "
                f"transaction {tx.id!r} was aborted",
            )
        tx.size += size
        memory.charge(size)
    tx.frames.append(frame)
    if len(tx.frames) > config.max_transaction_frames:
        _end(session, tx, memory)
        raise BrokerError(
            f"max_transaction_frames limit of {config.max_transaction_frames} exceeded",
            f"transaction {tx.id!r} was aborted",
        )


def _end(session: Session, tx: Transaction, memory: MemoryBudget) -> None:
    del session.transactions[tx.id]
    memory.release(tx.size)
