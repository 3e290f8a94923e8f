// The client side of Spring's greeting guide, unchanged in spirit: @stomp/stompjs.
const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/gs-guide-websocket`;
const client = new StompJs.Client({ brokerURL: url });
const $ = (id) => document.getElementById(id);

function setConnected(connected) {
  $("connect").disabled = connected;
  $("disconnect").disabled = !connected;
  $("send").disabled = !connected;
  $("status").textContent = connected ? "connected" : "disconnected";
}

client.onConnect = () => {
  setConnected(true);
  client.subscribe("/topic/greetings", (message) => {
    const p = document.createElement("p");
    p.textContent = JSON.parse(message.body).content;
    $("greetings").appendChild(p);
  });
};
client.onStompError = (frame) => { $("status").textContent = `error: ${frame.headers.message}`; };
client.onWebSocketClose = () => setConnected(false);

$("connect").onclick = () => client.activate();
$("disconnect").onclick = () => client.deactivate();
$("form").onsubmit = (event) => {
  event.preventDefault();
  client.publish({ destination: "/app/hello", body: JSON.stringify({ name: $("name").value }) });
};
