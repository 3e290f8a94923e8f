// stompbox console: the overview comes live over STOMP (/topic/stompbox.overview on this
// origin's /ws), or from /api/overview every 2 s while that is down; the tables poll the
// admin API. Everything from the server is put in the page as text, never as HTML.
"use strict";
(() => {
  const OVERVIEW_TOPIC = "/topic/stompbox.overview";
  const POLL_OVERVIEW_MS = 2000;
  const POLL_TABLES_MS = 3000;
  const POLL_HISTORY_MS = 5000;
  const HISTORY_QUEUES = 25; // queues whose depth history is fetched, deepest first
  const RATE_POINTS = 90; // points in the overview's rate sparklines
  const SPARK_WINDOW_S = 300; // a queue sparkline shows its last 5 minutes
  const SVG = "http://www.w3.org/2000/svg";

  const state = {
    live: false,
    lastFeed: 0,
    rates: { in: [], out: [] },
    connections: [],
    queues: [],
    history: new Map(),
    view: "overview",
  };

  const $ = (id) => document.getElementById(id);
  const setText = (id, text) => { $(id).textContent = text; };

  // -- formatting -----------------------------------------------------------------
  const integer = new Intl.NumberFormat("en-US");
  const count = (n) => integer.format(n);
  function rate(n) {
    if (!n) return "0";
    if (n >= 100) return integer.format(Math.round(n));
    return n >= 10 ? n.toFixed(1) : n.toFixed(2);
  }
  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)} ${units[i]}`;
  }
  function age(seconds) {
    const s = Math.floor(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "onclick") node.addEventListener("click", value);
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }
  const cell = (text, className = "") => el("td", { className, text: String(text) });

  function sparkline(values, label) {
    const width = 100;
    const height = 30;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    const points = values.length > 1 ? values : [values[0] || 0, values[0] || 0];
    const top = Math.max(1, ...points);
    const xy = points.map((v, i) => [
      (i * width) / (points.length - 1),
      height - 1 - (v / top) * (height - 2),
    ]);
    const line = xy.map(([x, y]) => `${x.toFixed(2)},${y.toFixed(2)}`).join(" ");
    const area = document.createElementNS(SVG, "polygon");
    area.setAttribute("class", "area");
    area.setAttribute("points", `0,${height} ${line} ${width},${height}`);
    const path = document.createElementNS(SVG, "polyline");
    path.setAttribute("class", "line");
    path.setAttribute("points", line);
    svg.append(area, path);
    return svg;
  }

  function toast(message, error = false) {
    const box = $("toast");
    box.textContent = message;
    box.className = error ? "toast error" : "toast";
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, error ? 8000 : 4000);
  }

  // -- the admin API ----------------------------------------------------------------
  async function api(method, path, body) {
    const options = { method, cache: "no-store", headers: {} };
    if (body !== undefined) {
      options.headers["content-type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
    return data;
  }
  const queuePath = (name) => `/api/queues/${encodeURIComponent(name)}`;

  // -- overview ---------------------------------------------------------------------
  function setFeed(source, text) {
    $("feed").dataset.source = source;
    setText("feed-text", text);
  }

  function renderOverview(data, source) {
    $("view-overview").dataset.source = source;
    setText("version", `v${data.version}`);
    setText("uptime", age(data.uptime_seconds));
    setText("rate-in", rate(data.rates.published_per_second));
    setText("rate-out", rate(data.rates.delivered_per_second));
    for (const [key, value] of [["in", data.rates.published_per_second], ["out", data.rates.delivered_per_second]]) {
      const series = state.rates[key];
      series.push(value);
      if (series.length > RATE_POINTS) series.shift();
      $(`spark-${key}`).replaceChildren(sparkline(series, `Messages ${key} per second, recent`));
    }
    setText("connections-count", count(data.connections));
    setText("sessions-count", count(data.sessions));
    setText("subscriptions-count", count(data.subscriptions));
    setText("queues-count", count(data.queues));
    const m = data.messages;
    setText("total-published", count(m.published));
    setText("total-delivered", count(m.delivered));
    setText("total-redelivered", count(m.redelivered));
    setText("total-dead-lettered", count(m.dead_lettered));
    setText("total-dropped", count(m.dropped_slow_consumer));
    const { used_bytes: used, budget_bytes: budget } = data.memory;
    const share = budget ? Math.min(100, (used / budget) * 100) : 0;
    setText("memory-used", bytes(used));
    setText("memory-budget", budget ? bytes(budget) : "no");
    $("memory-bar").style.width = `${share.toFixed(1)}%`;
    $("memory-meter").setAttribute("aria-valuenow", share.toFixed(0));
    $("memory-meter").classList.toggle("high", share > 80);
  }

  async function pollOverview() {
    try {
      renderOverview(await api("GET", "/api/overview"), "polling");
    } catch (error) {
      setFeed("none", `Cannot reach the server: ${error.message}`);
    }
  }

  function startFeed() {
    if (!window.StompJs) {
      setFeed("polling", "Polling every 2 s (no STOMP client)");
      return;
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const client = new StompJs.Client({
      brokerURL: `${scheme}://${location.host}/ws`,
      reconnectDelay: 3000,
      heartbeatIncoming: 10000,
      heartbeatOutgoing: 10000,
    });
    client.onConnect = () => {
      client.subscribe(OVERVIEW_TOPIC, (message) => {
        if (!state.live) setFeed("stomp", "Live over STOMP");
        state.live = true;
        state.lastFeed = Date.now();
        renderOverview(JSON.parse(message.body), "stomp");
      });
    };
    client.onStompError = (frame) => {
      state.live = false;
      setFeed("polling", `Live feed refused (${frame.headers.message}): polling every 2 s`);
    };
    client.onWebSocketClose = () => {
      if (state.live || $("feed").dataset.source === "none") {
        setFeed("polling", "Live feed down: polling every 2 s");
      }
      state.live = false;
    };
    client.activate();
  }

  // -- tables -----------------------------------------------------------------------
  function emptyRow(tbody, columns, text) {
    tbody.replaceChildren(el("tr", {}, el("td", { className: "empty", colspan: columns, text })));
  }

  function renderConnections() {
    const rows = state.connections;
    const tbody = $("connections-table").tBodies[0];
    if (!rows.length) emptyRow(tbody, 10, "No open connections");
    else tbody.replaceChildren(...rows.map((c) => el("tr", { dataset: { id: c.id } },
      cell(c.id, "num"), cell(c.address, "name"), cell(c.user ?? "anonymous"), cell(c.transport),
      cell(c.version ?? "connecting"), cell(age(c.age_seconds), "num"), cell(bytes(c.bytes_in), "num"),
      cell(bytes(c.bytes_out), "num"), cell(c.subscriptions, "num"),
      el("td", { className: "actions" }, el("button", {
        className: "small danger", type: "button", text: "Close",
        "aria-label": `Close connection ${c.id} from ${c.address}`,
        onclick: () => askClose(c),
      })))));
    setText("connections-note", `${rows.length} open`);
    const recent = [...rows].sort((a, b) => a.age_seconds - b.age_seconds).slice(0, 8);
    const small = $("overview-connections").tBodies[0];
    if (!recent.length) emptyRow(small, 4, "No open connections");
    else small.replaceChildren(...recent.map((c) => el("tr", { dataset: { id: c.id } },
      cell(c.address, "name"), cell(c.user ?? "anonymous"), cell(c.transport), cell(age(c.age_seconds), "num"))));
  }

  function depthSeries(name) {
    const points = state.history.get(name) || [];
    const since = Date.now() / 1000 - SPARK_WINDOW_S;
    return points.filter((p) => p.at >= since).map((p) => p.messages);
  }

  function renderQueues() {
    const rows = state.queues;
    const tbody = $("queues-table").tBodies[0];
    if (!rows.length) emptyRow(tbody, 9, "No queues");
    else tbody.replaceChildren(...rows.map((q) => {
      const name = el("td", { className: "name", text: q.name });
      if (q.dead_letter) name.append(" ", el("span", { className: "badge dlq", text: "dead letters" }));
      const series = depthSeries(q.name);
      const actions = el("td", { className: "actions" },
        el("button", { className: "small", type: "button", text: "Browse",
          "aria-label": `Browse messages of ${q.name}`, onclick: () => { location.hash = `#browse/${encodeURIComponent(q.name)}`; } }));
      if (q.dead_letter) {
        actions.append(el("button", { className: "small", type: "button", text: "Requeue",
          "aria-label": `Requeue dead letters of ${q.name}`, onclick: () => askRequeue(q) }));
      }
      actions.append(el("button", { className: "small danger", type: "button", text: "Purge",
        "aria-label": `Purge queue ${q.name}`, onclick: () => askPurge(q) }));
      return el("tr", { dataset: { queue: q.name } },
        name, cell(count(q.messages), "num"), cell(bytes(q.bytes), "num"), cell(q.consumers, "num"),
        cell(q.unacked, "num"), cell(rate(q.published_per_second), "num"), cell(rate(q.delivered_per_second), "num"),
        el("td", {}, sparkline(series.length ? series : [q.messages], `Depth of ${q.name}, last 5 minutes`)),
        actions);
    }));
    setText("waiting-count", count(rows.reduce((sum, q) => sum + q.messages, 0)));
    const top = [...rows].sort((a, b) => b.messages - a.messages).slice(0, 8);
    const small = $("overview-queues").tBodies[0];
    if (!top.length) emptyRow(small, 5, "No queues");
    else small.replaceChildren(...top.map((q) => el("tr", { dataset: { queue: q.name } },
      cell(q.name, "name"), cell(count(q.messages), "num"), cell(q.consumers, "num"),
      cell(rate(q.published_per_second), "num"), cell(rate(q.delivered_per_second), "num"))));
    renderQueueChoices();
  }

  function renderQueueChoices() {
    const select = $("browse-queue");
    const chosen = select.value || state.browse;
    const names = state.queues.map((q) => q.name);
    if (chosen && !names.includes(chosen)) names.unshift(chosen);
    const same = names.length === select.options.length && names.every((n, i) => select.options[i].value === n);
    if (!same) {
      select.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
      if (chosen) select.value = chosen;
    }
  }

  async function refreshTables() {
    try {
      const [connections, queues] = await Promise.all([api("GET", "/api/connections"), api("GET", "/api/queues")]);
      state.connections = connections;
      state.queues = queues;
      renderConnections();
      renderQueues();
    } catch (error) {
      toast(`Refresh failed: ${error.message}`, true);
    }
  }

  async function refreshHistory() {
    if (state.view !== "queues") return;
    const deepest = [...state.queues].sort((a, b) => b.messages - a.messages).slice(0, HISTORY_QUEUES);
    for (const q of deepest) {
      try {
        state.history.set(q.name, (await api("GET", queuePath(q.name))).history || []);
      } catch {
        state.history.delete(q.name); // gone meanwhile
      }
    }
    renderQueues();
  }

  // -- message browser ----------------------------------------------------------------
  async function browse() {
    const name = $("browse-queue").value;
    const tbody = $("browse-table").tBodies[0];
    if (!name) {
      emptyRow(tbody, 5, "No queue to browse");
      return;
    }
    state.browse = name;
    const limit = Math.max(1, Math.min(500, Number($("browse-limit").value) || 20));
    try {
      const messages = await api("GET", `${queuePath(name)}/messages?limit=${limit}`);
      setText("browse-note", `${messages.length} message(s) at the head of ${name}`);
      if (!messages.length) emptyRow(tbody, 5, "The queue is empty");
      else tbody.replaceChildren(...messages.map((m, i) => el("tr", { dataset: { messageId: m.message_id } },
        cell(i + 1, "num"), cell(m.message_id, "name"), cell(bytes(m.size), "num"),
        el("td", {}, el("ul", { className: "headers" }, ...m.headers.map(([k, v]) => el("li", {}, el("b", { text: k }), `: ${v}`)))),
        el("td", {}, el("pre", { className: "body", text: m.encoding === "base64" ? `(base64) ${m.body}` : m.body })))));
    } catch (error) {
      setText("browse-note", error.message);
      emptyRow(tbody, 5, "Nothing to show");
    }
  }

  // -- actions, each confirmed in a dialog ----------------------------------------------
  function confirmDialog(id, prepare) {
    const dialog = $(id);
    prepare(dialog);
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  async function askClose(connection) {
    const ok = await confirmDialog("close-dialog", () => {
      setText("close-target", `Connection ${connection.id}: ${connection.user ?? "anonymous"} from ${connection.address} (${connection.transport}).`);
      $("close-reason").value = "";
    });
    if (!ok) return;
    const reason = $("close-reason").value.trim();
    try {
      await api("DELETE", `/api/connections/${encodeURIComponent(connection.id)}?reason=${encodeURIComponent(reason)}`);
      toast(`Closed connection ${connection.id}`);
    } catch (error) {
      toast(`Close failed: ${error.message}`, true);
    }
    refreshTables();
  }

  async function askPurge(queue) {
    const ok = await confirmDialog("purge-dialog", () => {
      setText("purge-target", `${queue.name} (${count(queue.messages)} waiting)`);
    });
    if (!ok) return;
    try {
      const answer = await api("DELETE", `${queuePath(queue.name)}/messages`);
      toast(`Purged ${count(answer.purged)} message(s) from ${queue.name}`);
    } catch (error) {
      toast(`Purge failed: ${error.message}`, true);
    }
    refreshTables();
  }

  async function askRequeue(queue) {
    const ok = await confirmDialog("requeue-dialog", () => {
      setText("requeue-target", queue.name);
      $("requeue-to").value = "";
    });
    if (!ok) return;
    const body = { limit: Math.max(1, Math.min(10000, Number($("requeue-limit").value) || 1000)) };
    const to = $("requeue-to").value.trim();
    if (to) body.to = to;
    try {
      const answer = await api("POST", `${queuePath(queue.name)}/requeue`, body);
      toast(`Moved ${count(answer.moved)} message(s)${answer.stopped ? `; stopped: ${answer.stopped}` : ""}`);
    } catch (error) {
      toast(`Requeue failed: ${error.message}`, true);
    }
    refreshTables();
  }

  // -- views ------------------------------------------------------------------------
  function showView() {
    const [view, arg] = (location.hash.slice(1) || "overview").split("/");
    state.view = ["overview", "connections", "queues", "browse"].includes(view) ? view : "overview";
    for (const section of document.querySelectorAll(".view")) {
      section.hidden = section.id !== `view-${state.view}`;
    }
    for (const link of document.querySelectorAll("nav a")) {
      if (link.dataset.view === state.view) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (state.view === "browse") {
      if (arg) {
        state.browse = decodeURIComponent(arg);
        renderQueueChoices();
        $("browse-queue").value = state.browse;
      }
      browse();
    }
    if (state.view === "queues") refreshHistory();
  }

  $("browse-form").addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#browse/${encodeURIComponent($("browse-queue").value)}`;
    browse();
  });
  window.addEventListener("hashchange", showView);

  startFeed();
  pollOverview();
  refreshTables().then(showView);
  setInterval(() => {
    if (!state.live || Date.now() - state.lastFeed > 3000) {
      state.live = false;
      if ($("feed").dataset.source === "stomp") setFeed("polling", "Live feed quiet: polling every 2 s");
      pollOverview();
    }
  }, POLL_OVERVIEW_MS);
  setInterval(refreshTables, POLL_TABLES_MS);
  setInterval(refreshHistory, POLL_HISTORY_MS);
})();
