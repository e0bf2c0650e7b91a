// A long-lived Node process that owns any number of named `socket.io-client`
// sockets, driven by JSON lines on stdin and reporting JSON lines on stdout.
// Driven from Python by tests/peers/node_puppet.py.
//
// Binary values travel in JSON as {"$bytes": "<base64>"} both ways.
//
// Every command may carry "req" (an integer chosen by the driver); the puppet
// answers each command with {"type":"reply","req":R,"ok":true,"result":...} or
// {"type":"reply","req":R,"ok":false,"error":"..."} once it has been processed.
//
// Commands
//   {"op":"connect","id":"a","url":"http://127.0.0.1:N/admin","opts":{...},"share":"b"?}
//       opts are socket.io-client options (transports, auth, path, reconnection,
//       reconnectionDelay, extraHeaders, query, upgrade, ...). Each socket gets
//       its own Manager (forceNew) unless "share" names an existing socket whose
//       Manager (and so Engine.IO connection) is reused (namespace multiplexing).
//   {"op":"emit","id":"a","event":"echo","args":[...],"ack":true,"timeout":5000,"volatile":false}
//       with ack, the ack is later reported as {"type":"ack","req":R,"args":[...]}
//       or {"type":"ack","req":R,"error":"..."}.
//   {"op":"answer","id":"a","event":"question","args":[{"echo":{"$arg":0}}]}
//       how to answer server->client acks for `event` ("*" for any): args is a
//       template where {"$arg": i} is replaced by the i-th received argument and
//       {"$args": true} by the list of all of them. "mode":"ignore" never answers,
//       "mode":"manual" reports an "ack_id" in the event so that the driver can
//       answer with {"op":"ack","id":"a","ack_id":K,"args":[...]}.
//       Without any setting the puppet answers with no argument.
//   {"op":"disconnect","id":"a"}   socket.disconnect()
//   {"op":"connect_again","id":"a"} socket.connect() after a disconnect
//   {"op":"close_engine","id":"a"}  close the Engine.IO connection under the socket
//   {"op":"state","id":"a"}         -> result {connected, active, id, transport, ...}
//   {"op":"remove","id":"a"}        disconnect and forget the socket
//   {"op":"ping"}                   -> result "pong"
//   {"op":"exit"}                   close everything and exit
//
// Reports (each with "id" the socket name)
//   {"type":"connect","id","sid","transport","recovered"}
//   {"type":"connect_error","id","message","data"}
//   {"type":"disconnect","id","reason","description"}
//   {"type":"event","id","event","args":[...],"ack_requested":bool,"ack_id"?}
//   {"type":"reconnect_attempt","id","attempt"} {"type":"reconnect","id","attempt"}
//   {"type":"reconnect_error","id","message"} {"type":"reconnect_failed","id"}
//   {"type":"open","id","transport"}   an Engine.IO connection opened
//   {"type":"upgrade","id","transport"}
//   {"type":"log","message"} / {"type":"fatal","message"}

import { createInterface } from "node:readline";
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// ---- binary <-> JSON -------------------------------------------------------
function isBinary(v) {
  return (
    v instanceof ArrayBuffer ||
    ArrayBuffer.isView(v) ||
    (typeof Blob !== "undefined" && v instanceof Blob)
  );
}

function toBase64(v) {
  if (Buffer.isBuffer(v)) return v.toString("base64");
  if (v instanceof ArrayBuffer) return Buffer.from(v).toString("base64");
  if (ArrayBuffer.isView(v)) {
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
  }
  throw new Error("unsupported binary value");
}

/** Make received values JSON-safe: binaries become {"$bytes": base64}. */
function encode(v) {
  if (v === undefined) return null;
  if (v === null || typeof v !== "object") return v;
  if (isBinary(v)) return { $bytes: toBase64(v) };
  if (Array.isArray(v)) return v.map(encode);
  const o = {};
  for (const [k, x] of Object.entries(v)) o[k] = encode(x);
  return o;
}

/** Turn driver values into emit arguments: {"$bytes": base64} become Buffers. */
function decode(v) {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(decode);
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0] === "$bytes") return Buffer.from(v.$bytes, "base64");
  const o = {};
  for (const [k, x] of Object.entries(v)) o[k] = decode(x);
  return o;
}

/** Fill an answer template with the received (decoded) arguments. */
function fill(tpl, received) {
  if (tpl === null || typeof tpl !== "object") return tpl;
  if (Array.isArray(tpl)) return tpl.map((t) => fill(t, received));
  const keys = Object.keys(tpl);
  if (keys.length === 1 && keys[0] === "$arg") return received[tpl.$arg];
  if (keys.length === 1 && keys[0] === "$args") return received;
  if (keys.length === 1 && keys[0] === "$bytes") return decode(tpl);
  const o = {};
  for (const [k, x] of Object.entries(tpl)) o[k] = fill(x, received);
  return o;
}

// ---- sockets ---------------------------------------------------------------
/** name -> {socket, answers: Map(event -> spec), pendingAcks: Map(id -> fn)} */
const entries = new Map();
let nextAckId = 1;

function entry(id) {
  const e = entries.get(id);
  if (!e) throw new Error(`unknown socket ${JSON.stringify(id)}`);
  return e;
}

function transportName(socket) {
  return socket.io?.engine?.transport?.name ?? null;
}

function watchManager(id, manager) {
  // Several sockets may share a Manager: report manager events for each.
  const hookEngine = () => {
    const engine = manager.engine;
    if (!engine || engine.__puppetHooked?.has(id)) return;
    (engine.__puppetHooked ??= new Set()).add(id);
    engine.on("upgrade", (transport) =>
      out({ type: "upgrade", id, transport: transport?.name ?? String(transport) }),
    );
  };
  manager.on("open", () => {
    hookEngine();
    out({ type: "open", id, transport: manager.engine?.transport?.name ?? null });
  });
  hookEngine();
  manager.on("reconnect_attempt", (attempt) => out({ type: "reconnect_attempt", id, attempt }));
  manager.on("reconnect", (attempt) => out({ type: "reconnect", id, attempt }));
  manager.on("reconnect_error", (err) =>
    out({ type: "reconnect_error", id, message: String(err?.message ?? err) }),
  );
  manager.on("reconnect_failed", () => out({ type: "reconnect_failed", id }));
  manager.on("error", (err) =>
    out({ type: "manager_error", id, message: String(err?.message ?? err) }),
  );
}

function cmdConnect(cmd) {
  const id = cmd.id;
  if (entries.has(id)) throw new Error(`socket ${id} already exists`);
  const opts = decode({ ...(cmd.opts || {}) });
  // "parser": "msgpack" picks socket.io-msgpack-parser (a module cannot travel in JSON).
  if (opts.parser === "msgpack") opts.parser = msgpackParser;
  let socket;
  if (cmd.share) {
    const manager = entry(cmd.share).socket.io;
    const nsp = new URL(cmd.url).pathname || "/";
    socket = manager.socket(nsp, opts);
  } else {
    if (opts.forceNew === undefined && opts.multiplex === undefined) opts.forceNew = true;
    socket = io(cmd.url, { ...opts, autoConnect: false });
    watchManager(id, socket.io);
  }
  const e = { socket, answers: new Map(), pendingAcks: new Map() };
  entries.set(id, e);

  socket.on("connect", () =>
    out({
      type: "connect",
      id,
      sid: socket.id,
      transport: transportName(socket),
      recovered: socket.recovered ?? false,
    }),
  );
  socket.on("connect_error", (err) =>
    out({
      type: "connect_error",
      id,
      message: String(err?.message ?? err),
      data: encode(err?.data ?? null),
      active: socket.active,
    }),
  );
  socket.on("disconnect", (reason, details) =>
    out({
      type: "disconnect",
      id,
      reason,
      description: details ? String(details.description ?? details.message ?? "") : null,
      active: socket.active,
    }),
  );
  socket.onAny((event, ...args) => {
    let ackFn = null;
    if (args.length && typeof args[args.length - 1] === "function") ackFn = args.pop();
    const report = { type: "event", id, event, args: encode(args), ack_requested: !!ackFn };
    if (ackFn) {
      const spec = e.answers.get(event) ?? e.answers.get("*") ?? null;
      const mode = spec?.mode ?? "template";
      if (mode === "manual") {
        const ackId = nextAckId++;
        e.pendingAcks.set(ackId, ackFn);
        report.ack_id = ackId;
        out(report);
      } else {
        // Report first, so that the driver sees the event before its answer
        // can trigger anything else.
        out(report);
        if (mode !== "ignore") ackFn(...fill(spec?.args ?? [], args));
      }
    } else {
      out(report);
    }
  });

  if (!cmd.share) socket.connect();
  else if (!socket.connected) socket.connect();
  return { id };
}

function cmdEmit(cmd) {
  const e = entry(cmd.id);
  const args = decode(cmd.args ?? []);
  let target = e.socket;
  if (cmd.volatile) target = target.volatile;
  if (cmd.compress === false) target = target.compress(false);
  if (!cmd.ack) {
    target.emit(cmd.event, ...args);
    return null;
  }
  const req = cmd.req;
  const timeout = cmd.timeout ?? 10000;
  target.timeout(timeout).emit(cmd.event, ...args, (err, ...res) => {
    if (err) out({ type: "ack", req, id: cmd.id, error: String(err?.message ?? err) });
    else out({ type: "ack", req, id: cmd.id, args: encode(res) });
  });
  return null;
}

function cmdAnswer(cmd) {
  const e = entry(cmd.id);
  e.answers.set(cmd.event ?? "*", { mode: cmd.mode ?? "template", args: cmd.args ?? [] });
  return null;
}

function cmdAck(cmd) {
  const e = entry(cmd.id);
  const fn = e.pendingAcks.get(cmd.ack_id);
  if (!fn) throw new Error(`no pending ack ${cmd.ack_id}`);
  e.pendingAcks.delete(cmd.ack_id);
  fn(...decode(cmd.args ?? []));
  return null;
}

function cmdState(cmd) {
  const s = entry(cmd.id).socket;
  return {
    connected: s.connected,
    active: s.active,
    disconnected: s.disconnected,
    sid: s.id ?? null,
    nsp: s.nsp,
    transport: transportName(s),
    engine_ready_state: s.io?.engine?.readyState ?? null,
    manager_state: s.io?._readyState ?? null,
  };
}

const handlers = {
  ping: () => "pong",
  connect: cmdConnect,
  emit: cmdEmit,
  answer: cmdAnswer,
  ack: cmdAck,
  state: cmdState,
  disconnect: (cmd) => {
    entry(cmd.id).socket.disconnect();
    return null;
  },
  connect_again: (cmd) => {
    entry(cmd.id).socket.connect();
    return null;
  },
  close_engine: (cmd) => {
    entry(cmd.id).socket.io.engine?.close();
    return null;
  },
  remove: (cmd) => {
    const e = entries.get(cmd.id);
    if (e) {
      e.socket.disconnect();
      entries.delete(cmd.id);
    }
    return null;
  },
  exit: () => {
    shutdown(0);
    return null;
  },
};

let exiting = false;
function shutdown(code) {
  if (exiting) return;
  exiting = true;
  for (const { socket } of entries.values()) {
    try {
      socket.disconnect();
      socket.io.engine?.close();
    } catch {
      /* ignore */
    }
  }
  // Let the disconnect packets and the replies flush, then go.
  setTimeout(() => process.exit(code), 50);
}

process.on("uncaughtException", (err) => out({ type: "fatal", message: String(err?.stack ?? err) }));
process.on("unhandledRejection", (err) => out({ type: "fatal", message: String(err?.stack ?? err) }));
process.on("SIGTERM", () => shutdown(0));

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    out({ type: "reply", req: null, ok: false, error: `bad JSON: ${err.message}` });
    return;
  }
  const req = cmd.req ?? null;
  try {
    const h = handlers[cmd.op];
    if (!h) throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
    const result = h(cmd);
    out({ type: "reply", req, ok: true, result: result ?? null });
  } catch (err) {
    out({ type: "reply", req, ok: false, error: String(err?.message ?? err) });
  }
});
// The driver went away: never outlive it.
rl.on("close", () => shutdown(0));
out({ type: "ready", pid: process.pid });
