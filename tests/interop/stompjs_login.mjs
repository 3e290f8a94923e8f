// @stomp/stompjs under Node logging in to a broker: argv is the URL, login and passcode.
// Once connected it sends itself one message through a queue; it prints one JSON line of
// what it saw (the CONNECTED frame, the message's user-id, the ERROR), for
// tests/interop/test_security_interop.py to check.
import { Client } from "@stomp/stompjs";
import WebSocket from "ws";

Object.assign(globalThis, { WebSocket });

const [url, login, passcode] = process.argv.slice(2);
const queue = `/queue/stompjs-login-${process.pid}`;
const result = { connected: false, session: null, userId: null, body: null, errors: [] };
const client = new Client({
  brokerURL: url,
  connectHeaders: { login, passcode },
  reconnectDelay: 0,
  debug: () => {},
});
const done = () => {
  console.log(JSON.stringify(result));
  process.exit(0);
};
setTimeout(() => { result.errors.push({ message: "timeout" }); done(); }, 10000);

client.onStompError = (frame) => {
  result.errors.push({ message: frame.headers.message ?? null, body: frame.body });
  done();
};
client.onWebSocketClose = () => { if (!result.connected) done(); };
client.onConnect = (frame) => {
  result.connected = true;
  result.session = frame.headers.session ?? null;
  client.subscribe(queue, (message) => {
    result.userId = message.headers["user-id"] ?? null;
    result.body = message.body;
    client.deactivate().then(done);
  });
  client.publish({ destination: queue, body: "from stompjs" });
};
client.activate();
