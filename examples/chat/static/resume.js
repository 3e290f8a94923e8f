// Resume stompbox topics after a reconnection, with @stomp/stompjs (docs/delivery.md).
//
// stompjs subscribes afresh on every connection (in onConnect); a retained topic's
// messages carry `stompbox-seq`, and a SUBSCRIBE with `resume-from` the last one seen
// gets what was published while the connection was down, in order, before live ones.
//
//   const resume = new StompboxResume(client, { onGap: (destination) => reload() });
//   client.onConnect = () => resume.subscribe("/topic/chat/lobby", show);
//
// The first subscribe to a destination has no position and replays nothing; each later
// one resumes. `onGap` is called when the broker no longer held everything since the
// position (or restarted): the page should fetch the current state afresh.
class StompboxResume {
  constructor(client, { onGap = () => {} } = {}) {
    this.client = client;
    this.onGap = onGap;
    this.positions = new Map();
  }

  // client.subscribe, with resume-from the last position seen on `destination`.
  subscribe(destination, callback, headers = {}) {
    const position = this.positions.get(destination);
    const sent = position ? { ...headers, "resume-from": position } : headers;
    return this.client.subscribe(destination, (message) => {
      const seq = message.headers["stompbox-seq"];
      if (seq) this.positions.set(destination, seq);
      if (message.headers["stompbox-resume"] === "gap") this.onGap(destination, message);
      callback(message);
    }, sent);
  }

  // Start `destination` afresh: its next subscribe replays nothing.
  forget(destination) {
    this.positions.delete(destination);
  }
}

window.StompboxResume = StompboxResume;
