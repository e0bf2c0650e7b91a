// A receive-optimised WebSocket client on node:net for the fan-out receivers: hand-written
// upgrade request and frame parser, no per-message Buffer slices or events. It hands each
// text frame to `onFrame(buf, start, end)` in place, so a receiver costs the generator far
// less than a `ws` client would (the fan-out scenario delivers >100k frames/s).
// Client-to-server frames (CONNECT, pongs) are masked as RFC 6455 requires.
import { target } from "./eio.mjs";
import net from "node:net";
import { randomBytes } from "node:crypto";

function maskedFrame(text, opcode = 0x1) {
  const payload = Buffer.from(text);
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  const key = randomBytes(4);
  key.copy(out, head);
  for (let i = 0; i < n; i++) out[head + 4 + i] = payload[i] ^ key[i & 3];
  return out;
}

export class RawWs {
  constructor(sock) {
    this.sock = sock;
  }
  send(text) {
    this.sock.write(maskedFrame(text));
  }
  terminate() {
    this.sock.destroy();
  }
  close() {
    this.sock.end(maskedFrame("", 0x8));
    setTimeout(() => this.sock.destroy(), 1000).unref();
  }
}

// Same contract as eio.connect(): resolves with a RawWs once the Socket.IO CONNECT is acked;
// later text frames go to onFrame(buf, start, end); Engine.IO pings are answered here.
// `options.path` (default "/socket.io/") and `options.headers` (e.g. Authorization) shape
// the upgrade request.
export function rawConnect(port, auth, onFrame, timeoutMs = 20000, options = {}) {
  const path = options.path ?? target.path;
  const extra = Object.entries(options.headers ?? target.headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  return new Promise((resolve, reject) => {
    // `onread` reads into one reused buffer: no Buffer allocation nor 'data' event per read.
    const sock = net.connect({
      host: "127.0.0.1",
      port,
      noDelay: true,
      onread: { buffer: Buffer.allocUnsafe(64 * 1024), callback: (n, b) => feed(b.subarray(0, n)) },
    });
    const ws = new RawWs(sock);
    let state = -1; // -1 = HTTP upgrade, 0 = wait OPEN, 1 = wait CONNECT ack, 2 = connected
    let buf = null;
    const timer = setTimeout(() => done(new Error("connect timeout")), timeoutMs);
    function done(err) {
      if (state === 2) return;
      clearTimeout(timer);
      state = 3;
      sock.destroy();
      reject(err);
    }
    sock.on("connect", () => {
      const key = randomBytes(16).toString("base64");
      sock.write(
        `GET ${path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
          extra +
          `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
          `Sec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    sock.on("error", (e) => done(e));
    sock.on("close", () => done(new Error("closed during handshake")));
    function control(text) {
      if (text === "2") {
        ws.send("3");
        return true;
      }
      return false;
    }
    function handshakeFrame(text) {
      if (control(text)) return;
      if (state === 0 && text[0] === "0") {
        state = 1;
        ws.send(auth ? "40" + JSON.stringify(auth) : "40");
      } else if (state === 1 && text.startsWith("40")) {
        state = 2;
        clearTimeout(timer);
        resolve(ws);
      } else if (state === 1 && text.startsWith("44")) {
        done(new Error("connect refused: " + text));
      }
    }
    function feed(chunk) {
      buf = buf && buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let pos = 0;
      if (state === -1) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!/^HTTP\/1\.1 101/.test(buf.latin1Slice(0, 12))) {
          done(new Error("upgrade refused: " + buf.latin1Slice(0, Math.min(end, 200))));
          return;
        }
        state = 0;
        pos = end + 4;
      }
      const len = buf.length;
      while (pos + 2 <= len) {
        const b0 = buf[pos];
        let n = buf[pos + 1] & 0x7f;
        let hdr = 2;
        if (n === 126) {
          if (pos + 4 > len) break;
          n = buf.readUInt16BE(pos + 2);
          hdr = 4;
        } else if (n === 127) {
          if (pos + 10 > len) break;
          n = Number(buf.readBigUInt64BE(pos + 2));
          hdr = 10;
        }
        if (pos + hdr + n > len) break;
        const start = pos + hdr;
        const end = start + n;
        const opcode = b0 & 0x0f;
        if (opcode === 0x1) {
          if (state === 2) {
            if (n === 1 && buf[start] === 50) ws.send("3");
            else onFrame(buf, start, end);
          } else handshakeFrame(buf.toString("utf8", start, end));
        } else if (opcode === 0x9) {
          sock.write(maskedFrame(buf.toString("latin1", start, end), 0xa));
        } else if (opcode === 0x8) {
          sock.end();
        }
        // binary and continuation frames are not used by the bench app: ignored
        pos = end;
      }
      // keep an incomplete frame: copied, since the read buffer is reused
      buf = pos < len ? Buffer.from(buf.subarray(pos)) : null;
    }
  });
}
