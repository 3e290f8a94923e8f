// @stomp/stompjs under Node, against a broker URL given as argv[2]: prints one JSON line
// of what it saw, for tests/interop/test_stompjs.py to check.
import { Client } from "@stomp/stompjs";
import WebSocket from "ws";

Object.assign(globalThis, { WebSocket });

const url = process.argv[2];
const queue = `/queue/stompjs-${process.pid}`;
const result = { connected: null, messages: [], receipts: [], errors: [] };
const client = new Client({
  brokerURL: url,
  connectHeaders: { login: "guest", passcode: "guest" },
  heartbeatIncoming: 1000,
  heartbeatOutgoing: 1000,
  reconnectDelay: 0,
  debug: () => {},
});
const done = (code) => {
  console.log(JSON.stringify(result));
  process.exit(code);
};
setTimeout(() => { result.errors.push("timeout"); done(1); }, 10000);

client.onStompError = (frame) => { result.errors.push(frame.headers.message); done(1); };
client.onConnect = (frame) => {
  result.connected = { version: frame.headers.version, heartBeat: frame.headers["heart-beat"] };
  let expected = 3;
  const sub = client.subscribe(queue, (message) => {
    result.messages.push({
      text: message.body,
      bytes: Array.from(message.binaryBody),
      contentType: message.headers["content-type"] ?? null,
      custom: message.headers["x-custom"] ?? null,
    });
    message.ack();
    if (--expected === 0) {
      sub.unsubscribe();
      client.deactivate().then(() => done(0));
    }
  }, { ack: "client-individual" });
  client.watchForReceipt("sent", () => {
    result.receipts.push("sent");
    // wait past two heart-beat periods before the last message
    setTimeout(() => client.publish({ destination: queue, body: "after heart-beats" }), 2500);
  });
  client.publish({ destination: queue, body: "héllo text", headers: { "x-custom": "1" } });
  client.publish({
    destination: queue,
    binaryBody: new Uint8Array([0, 255, 1, 0]),
    headers: { "content-type": "application/octet-stream", receipt: "sent" },
  });
};
client.activate();
