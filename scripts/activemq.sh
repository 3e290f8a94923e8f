#!/usr/bin/env bash
# Install and start Debian's Apache ActiveMQ (Classic, 5.17) with a STOMP connector, for the
# interop and relay tests. Usage: scripts/activemq.sh [install|start|stop|status]
# It listens on 127.0.0.1 only: STOMP on 61633 (not 61613, which `make serve` uses, nor
# RabbitMQ's 61623) and OpenWire on 61636 (not the usual 61616). Debian's package has no
# web console (no Jetty) and JMX stays off, so nothing else listens.
# The broker runs as the instance "stompbox" of Debian's layout, without systemd:
#   /etc/activemq/instances-available/stompbox/  activemq.xml, log4j.properties, options
#   /var/lib/activemq/stompbox/                  its base; data/activemq.log is the log
#   /run/activemq/stompbox.pid                   the JVM's pid
# `stop` stops the JVM and waits for the port to close, so tests can stop and restart it.
set -euo pipefail
STOMP_PORT=61633
OPENWIRE_PORT=61636
INSTANCE=stompbox
CONF=/etc/activemq/instances-available/$INSTANCE
BASE=/var/lib/activemq/$INSTANCE
PIDFILE=/run/activemq/$INSTANCE.pid

# Another apt-get or dpkg (a provisioning step, a browser install) may hold the locks.
wait_for_apt() {
    for _ in $(seq 1 600); do
        if ! pgrep -x apt-get >/dev/null && ! pgrep -x apt >/dev/null \
            && ! pgrep -x dpkg >/dev/null && ! pgrep -x unattended-upgr >/dev/null; then
            return
        fi
        sleep 1
    done
    echo "apt or dpkg still busy after 600 s (see /tmp/activemq-install.log)" >&2
    exit 1
}

installed() {
    dpkg-query -W -f '${Status}' activemq 2>/dev/null | grep -q 'install ok installed'
}

install() {
    if ! installed; then
        wait_for_apt
    fi
    if ! installed; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=600 update -qq
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq activemq >/dev/null
    fi
    mkdir -p "$CONF" "$BASE/data" "$BASE/tmp" /run/activemq
    chown -R activemq:activemq "$BASE" /run/activemq
    # /usr/bin/activemq reads instances-enabled/<instance>/options in place of Debian's
    # /usr/share/activemq/activemq-options (-Xms512M -Xmx512M, the console to /dev/null).
    ln -sfn "$CONF" /etc/activemq/instances-enabled/$INSTANCE
    # Debian ships log4j2.properties, but the JVM ends up with log4j 1.2, which reads none
    # (the log stays empty): this one is in log4j 1.2's format.
    cat > "$CONF/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, logfile
log4j.logger.org.springframework=WARN
log4j.logger.org.apache.xbean=WARN
log4j.appender.logfile=org.apache.log4j.RollingFileAppender
log4j.appender.logfile.file=${activemq.data}/activemq.log
log4j.appender.logfile.maxFileSize=1MB
log4j.appender.logfile.maxBackupIndex=2
log4j.appender.logfile.layout=org.apache.log4j.PatternLayout
log4j.appender.logfile.layout.ConversionPattern=%d | %-5p | %m | %c | %t%n
EOF
    cat > "$CONF/options" <<EOF
ACTIVEMQ_BASE="$BASE"
ACTIVEMQ_DATA="$BASE/data"
ACTIVEMQ_TMP="$BASE/tmp"
ACTIVEMQ_OPTS="-Xms64m -Xmx512m -XX:+UseSerialGC"
ACTIVEMQ_OUT="$BASE/console.log"
EOF
    # No authentication plugin: ActiveMQ accepts any login and passcode (guest/guest included)
    # and applies no authorization. Messages sent with persistent:true are kept in KahaDB under
    # the instance's data directory, so they outlive a stop and start (the relay's restart
    # tests count on it); the others live in memory only.
    # transport.hbGracePeriodMultiplier: the broker closes a connection only after 1.5 times
    # the client's promised heart-beat interval passes in silence (the default 1.0 is strict).
    cat > "$CONF/activemq.xml" <<EOF
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
                           http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="stompbox-tests"
          useJmx="false" persistent="true" schedulerSupport="false"
          dataDirectory="$BASE/data" tmpDataDirectory="$BASE/data/tmp">
    <persistenceAdapter><kahaDB directory="$BASE/data/kahadb"/></persistenceAdapter>
    <systemUsage>
      <systemUsage>
        <memoryUsage><memoryUsage limit="128 mb"/></memoryUsage>
        <storeUsage><storeUsage limit="1 gb"/></storeUsage>
        <tempUsage><tempUsage limit="1 gb"/></tempUsage>
      </systemUsage>
    </systemUsage>
    <transportConnectors>
      <transportConnector name="stomp"
          uri="stomp://127.0.0.1:$STOMP_PORT?transport.hbGracePeriodMultiplier=1.5&amp;maximumConnections=4000&amp;wireFormat.maxFrameSize=104857600"/>
      <transportConnector name="openwire" uri="tcp://127.0.0.1:$OPENWIRE_PORT?maximumConnections=100"/>
    </transportConnectors>
  </broker>
</beans>
EOF
}

running() {
    (echo > /dev/tcp/127.0.0.1/$STOMP_PORT) >/dev/null 2>&1
}

# Whether process $1 runs. A killed JVM can stay a zombie for seconds where PID 1 is slow
# to reap (this sandbox's is), and kill -0 would still find it.
alive() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

# The JVM's pid, from the pid file or else from its command line (a start by other means).
jvm_pid() {
    local pid
    if [ -s "$PIDFILE" ]; then
        pid=$(cat "$PIDFILE")
        if alive "$pid"; then
            echo "$pid"
            return
        fi
    fi
    pgrep -f -- "-Dactivemq.base=$BASE " | head -n 1 || true
}

start() {
    install
    if running; then
        echo "ActiveMQ already answers on $STOMP_PORT"
        return
    fi
    if [ -z "$(jvm_pid)" ]; then
        rm -f "$PIDFILE"
        # Debian's launcher: as root it su's to the activemq user and backgrounds the JVM.
        env INSTANCE=$INSTANCE ACTIVEMQ_USER=activemq ACTIVEMQ_HOME=/usr/share/activemq \
            ACTIVEMQ_BASE="$BASE" ACTIVEMQ_CONF="$CONF" ACTIVEMQ_DATA="$BASE/data" \
            ACTIVEMQ_TMP="$BASE/tmp" ACTIVEMQ_PIDFILE="$PIDFILE" \
            /usr/bin/activemq start xbean:activemq.xml >/dev/null
    fi
    for _ in $(seq 1 240); do
        if running; then
            echo "ActiveMQ STOMP on 127.0.0.1:$STOMP_PORT, OpenWire on 127.0.0.1:$OPENWIRE_PORT"
            return
        fi
        if [ -z "$(jvm_pid)" ]; then
            echo "ActiveMQ exited while starting; see $BASE/console.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "ActiveMQ did not start within 120 s; see $BASE/console.log" >&2
    exit 1
}

stop() {
    local pid
    pid=$(jvm_pid)
    if [ -n "$pid" ]; then
        # The broker's shutdown hook closes its connectors and connections on SIGTERM.
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 120); do
            alive "$pid" || break
            sleep 0.25
        done
        if alive "$pid"; then
            echo "ActiveMQ (pid $pid) ignored SIGTERM for 30 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$PIDFILE"
    for _ in $(seq 1 120); do
        running || return 0
        sleep 0.25
    done
    echo "something still answers on $STOMP_PORT" >&2
    exit 1
}

case "${1:-start}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) if running; then echo running; else echo stopped; exit 1; fi ;;
    *) echo "usage: $0 [install|start|stop|status]" >&2; exit 2 ;;
esac
