#!/usr/bin/env bash
# Install and start RabbitMQ with its STOMP and Web-STOMP plugins, for the interop tests
# and the side-by-side benchmarks. Usage: scripts/rabbitmq.sh [install|start|stop|status]
set -euo pipefail

install() {
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq rabbitmq-server >/dev/null
    fi
    # Debian's package starts nothing without systemd; make sure no stale node runs.
    rabbitmq-plugins --offline enable rabbitmq_stomp rabbitmq_web_stomp >/dev/null
}

running() {
    (echo > /dev/tcp/127.0.0.1/61613) >/dev/null 2>&1
}

start() {
    install
    if running; then
        echo "RabbitMQ already answers on 61613"
        return
    fi
    # Through su, which resets the soft fd limit: raise it for the node itself.
    su rabbitmq -s /bin/sh -c 'cd; ulimit -n 20000; rabbitmq-server -detached' >/dev/null 2>&1
    for _ in $(seq 1 120); do
        if running; then
            echo "RabbitMQ STOMP on 61613, Web-STOMP on 15674"
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
