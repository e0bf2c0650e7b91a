// Minimal Engine.IO v4 long-polling client on node:http (keep-alive), text packets only.
// Cheaper per request than socket.io-client's XMLHttpRequest shim, so the generator is not
// the bottleneck of the polling scenario.
import http from "node:http";
import { target } from "./eio.mjs";

const SEP = "\x1e";

export class PollingClient {
  constructor(port, agent) {
    this.port = port;
    this.agent = agent;
    this.sid = null;
    this.onPacket = () => {};
    this.closed = false;
    this.postQueue = [];
    this.posting = false;
  }

  request(method, body) {
    const path = `${target.path}?EIO=4&transport=polling${this.sid ? `&sid=${this.sid}` : ""}`;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: this.port,
          method,
          path,
          agent: this.agent,
          headers: body !== undefined
            ? { ...target.headers, "content-type": "text/plain;charset=UTF-8",
                "content-length": Buffer.byteLength(body) }
            : target.headers,
          timeout: 60000,
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            else resolve(text);
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("request timeout")));
      req.on("error", reject);
      req.end(body);
    });
  }

  // Handshake + Socket.IO CONNECT; resolves once `40{...}` has been received.
  async open(auth) {
    const first = await this.request("GET");
    const open = first.split(SEP).find((p) => p[0] === "0");
    if (!open) throw new Error("no OPEN packet: " + first.slice(0, 200));
    this.sid = JSON.parse(open.slice(1)).sid;
    await this.request("POST", auth ? "40" + JSON.stringify(auth) : "40");
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
      const payload = await this.request("GET");
      for (const p of payload.split(SEP)) {
        if (p === "2") this.send("3");
        else if (p.startsWith("40")) {
          this.pollLoop();
          return;
        } else if (p.startsWith("44")) throw new Error("connect refused: " + p);
      }
    }
    throw new Error("no CONNECT ack");
  }

  async pollLoop() {
    while (!this.closed) {
      let payload;
      try {
        payload = await this.request("GET");
      } catch (e) {
        if (!this.closed) this.onError(e);
        return;
      }
      for (const p of payload.split(SEP)) {
        if (p === "2") this.send("3");
        else if (p === "1") {
          this.closed = true;
          return;
        } else this.onPacket(p);
      }
    }
  }

  onError() {}

  // Packets queued while a POST is in flight go out together in the next one.
  send(packet) {
    this.postQueue.push(packet);
    if (!this.posting) this.flush();
  }

  async flush() {
    this.posting = true;
    while (this.postQueue.length && !this.closed) {
      const body = this.postQueue.join(SEP);
      this.postQueue = [];
      try {
        await this.request("POST", body);
      } catch (e) {
        if (!this.closed) this.onError(e);
        break;
      }
    }
    this.posting = false;
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.request("POST", "1");
    } catch {
      // the server may already have dropped the session
    }
  }
}
