// The chat client: @stomp/stompjs over WebSocket, rooms on /topic, private on /user/queue.
// With ?transport=sockjs in the page's URL it goes through SockJS (/sockjs) instead.
const $ = (id) => document.getElementById(id);
const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/stomp`;
const sockjs = new URLSearchParams(location.search).get("transport") === "sockjs";
const sockjsLoaded = new Promise((resolve, reject) => {
  if (!sockjs) return resolve();
  const script = document.createElement("script");
  script.src = "/vendor/sockjs/sockjs.min.js";
  script.onload = resolve;
  script.onerror = () => reject(new Error("could not load sockjs.min.js"));
  document.head.append(script);
});
let client = null;
let resume = null;
let room = "lobby";
let roomSubscription = null;
const online = new Set();

function line(list, message) {
  const li = document.createElement("li");
  const who = document.createElement("span");
  who.className = "sender";
  who.textContent = message.sender;
  li.append(who, document.createTextNode(message.text));
  $(list).appendChild(li);
}

// An error on /user/queue/errors: the chat's exception handler answers {"error": ...};
// stompbox's own reports say what in the `message` header and give the details as the body.
function errorText(m) {
  return m.headers.message ? `${m.headers.message}: ${m.body}` : JSON.parse(m.body).error;
}

function notice(text) {
  const p = document.createElement("p");
  p.className = "notice";
  const span = document.createElement("span");
  span.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "×";
  close.title = "dismiss";
  close.onclick = () => p.remove();
  p.append(span, close);
  $("errors").appendChild(p);
}

// Joining a room starts it afresh; after a reconnection (again = true) the room resumes
// where it stopped: the broker retains /topic/chat/* and replays what came meanwhile.
function joinRoom(name, again = false) {
  const destination = `/topic/chat/${name}`;
  if (!again || name !== room) {
    resume.forget(destination);
    $("messages").replaceChildren();
  }
  room = name;
  $("room-title").textContent = `#${name}`;
  for (const li of $("rooms").children) li.classList.toggle("active", li.dataset.room === name);
  if (roomSubscription) roomSubscription.unsubscribe();
  roomSubscription = resume.subscribe(destination, (m) => line("messages", JSON.parse(m.body)));
}

function showOnline() {
  $("online").replaceChildren(...[...online].sort().map((u) => {
    const li = document.createElement("li");
    li.textContent = u;
    return li;
  }));
}

$("login").onsubmit = async (event) => {
  event.preventDefault();
  const user = $("user").value.trim();
  await sockjsLoaded;
  const socket = sockjs ? { webSocketFactory: () => new SockJS("/sockjs") } : { brokerURL: url };
  client = new StompJs.Client({ ...socket, connectHeaders: { login: user }, reconnectDelay: 2000 });
  resume = new StompboxResume(client, {
    onGap: () => notice("some messages were missed while disconnected"),
  });
  let connections = 0;
  client.onWebSocketClose = () => {
    roomSubscription = null; // gone with its connection
    document.body.dataset.connected = "false";
  };
  client.onConnect = () => {
    const again = connections++ > 0;
    $("status").textContent = `connected as ${user}`;
    document.body.dataset.connected = "true";
    for (const id of ["text", "send", "to", "private-text", "send-private"]) $(id).disabled = false;
    $("user").disabled = $("join").disabled = true;
    client.subscribe("/app/rooms", (m) => {
      $("rooms").replaceChildren(...JSON.parse(m.body).map((name) => {
        const li = document.createElement("li");
        li.textContent = `#${name}`;
        li.dataset.room = name;
        li.onclick = () => joinRoom(name);
        return li;
      }));
      joinRoom(room, again);
    });
    client.subscribe("/user/queue/private", (m) => line("private", JSON.parse(m.body)));
    client.subscribe("/user/queue/errors", (m) => notice(errorText(m)));
    client.subscribe("/topic/presence", (m) => {
      const p = JSON.parse(m.body);
      if (p.online) online.add(p.user); else online.delete(p.user);
      showOnline();
    });
    online.add(user);
    fetch("/users").then((r) => r.json()).then((users) => {
      for (const u of Object.keys(users)) online.add(u);
      showOnline();
    });
  };
  client.onStompError = (frame) => { $("status").textContent = `error: ${frame.headers.message}`; };
  client.activate();
};

$("post").onsubmit = (event) => {
  event.preventDefault();
  client.publish({ destination: `/app/chat/${room}`, body: JSON.stringify({ text: $("text").value }) });
  $("text").value = "";
};

$("whisper").onsubmit = (event) => {
  event.preventDefault();
  client.publish({
    destination: "/app/private",
    body: JSON.stringify({ to: $("to").value, text: $("private-text").value }),
  });
  $("private-text").value = "";
};
