"""STOMP 1.0 extensions that RabbitMQ and ActiveMQ accept, over real sockets."""

from __future__ import annotations

from .helpers import RawClient, ServerThread


def test_client_individual_ack_on_1_0_acks_one_message(server: ServerThread) -> None:
    publisher = RawClient(server.port)
    publisher.connect("1.2")
    for body in (b"1", b"2", b"3"):
        publisher.send(b"SEND\ndestination:/queue/ci\n\n" + body + b"\0")
    publisher.send(b"DISCONNECT\nreceipt:p\n\n\0")
    assert publisher.next_frame().get("receipt-id") == "p"

    consumer = RawClient(server.port)
    consumer.connect("1.0")
    consumer.send(b"SUBSCRIBE\ndestination:/queue/ci\nack:client-individual\nreceipt:s\n\n\0")
    frames = [consumer.next_frame() for _ in range(4)]  # the backlog comes before the RECEIPT
    assert frames[-1].command == "RECEIPT"
    messages = frames[:3]
    assert [m.body for m in messages] == [b"1", b"2", b"3"]
    second = (messages[1].get("message-id") or "").encode()
    consumer.send(b"ACK\nmessage-id:" + second + b"\nreceipt:a\n\n\0")  # by message-id, 1.0
    assert consumer.next_frame().get("receipt-id") == "a"
    consumer.send(b"DISCONNECT\nreceipt:d\n\n\0")
    assert consumer.next_frame().get("receipt-id") == "d"

    # Only the acknowledged message is gone: client (cumulative) would have taken 1 too.
    again = RawClient(server.port)
    again.connect("1.0")
    again.send(b"SUBSCRIBE\ndestination:/queue/ci\n\n\0")
    redelivered = [again.next_frame() for _ in range(2)]
    assert [m.body for m in redelivered] == [b"1", b"3"]
    assert all(m.get("redelivered") == "true" for m in redelivered)
