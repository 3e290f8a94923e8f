#!/usr/bin/env bash
# Install and start RabbitMQ with its STOMP and Web-STOMP plugins, for the interop tests
# and the side-by-side benchmarks. Usage: scripts/rabbitmq.sh [install|start|stop|status]
# It listens on 61623 (STOMP) and 15684 (Web-STOMP), not on the usual 61613/15674, so
# that `make serve` can have those after `make test` started RabbitMQ.
set -euo pipefail
STOMP_PORT=61623
WS_PORT=15684

install() {
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq rabbitmq-server >/dev/null
    fi
    # Debian's package starts nothing without systemd; make sure no stale node runs.
    rabbitmq-plugins --offline enable rabbitmq_stomp rabbitmq_web_stomp >/dev/null
    mkdir -p /etc/rabbitmq
    printf 'stomp.listeners.tcp.1 = %s\nweb_stomp.tcp.port = %s\n' "$STOMP_PORT" "$WS_PORT" \
        > /etc/rabbitmq/rabbitmq.conf
}

running() {
    (echo > /dev/tcp/127.0.0.1/$STOMP_PORT) >/dev/null 2>&1
}

start() {
    install
    if running; then
        echo "RabbitMQ already answers on $STOMP_PORT"
        return
    fi
    # Through su, which resets the soft fd limit: raise it for the node itself.
    su rabbitmq -s /bin/sh -c 'cd; ulimit -n 20000; rabbitmq-server -detached' >/dev/null 2>&1
    for _ in $(seq 1 120); do
        if running; then
            echo "RabbitMQ STOMP on $STOMP_PORT, Web-STOMP on $WS_PORT"
            return
        fi
        sleep 1
    done
    echo "RabbitMQ did not start within 120 s" >&2
    exit 1
}

stop() {
    rabbitmqctl stop >/dev/null 2>&1 || true
}

case "${1:-start}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) if running; then echo running; else echo stopped; exit 1; fi ;;
    *) echo "usage: $0 [install|start|stop|status]" >&2; exit 2 ;;
esac
