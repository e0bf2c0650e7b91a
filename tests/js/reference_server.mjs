// The interop contract (tests/apps/CONTRACT.md) implemented on the official
// Node `socket.io` 4.8 server. It is the oracle of the interop tests: a test
// that passes here and fails on jupyter_sio is a jupyter_sio bug.
//
//   node tests/js/reference_server.mjs --port N [--path /socket.io/] [--recovery]
//
// --recovery turns on connectionStateRecovery (maxDisconnectionDuration 30 s, or
// --recovery-window MS);
// --msgpack uses socket.io-msgpack-parser.
//
// Listens on 127.0.0.1, prints `READY <port>` on stdout once listening
// (`--port 0` picks a free port), exits cleanly on SIGTERM / SIGINT.

import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";

const { values: argv } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    path: { type: "string", default: "/socket.io/" },
    recovery: { type: "boolean", default: false },
    "recovery-window": { type: "string", default: "30000" },
    msgpack: { type: "boolean", default: false },
  },
});

const httpServer = createServer();
const io = new Server(httpServer, {
  path: argv.path,
  pingInterval: 1000,
  pingTimeout: 2000,
  maxHttpBufferSize: 1e6,
  transports: ["polling", "websocket"],
  allowUpgrades: true,
  serveClient: false,
  ...(argv.msgpack ? { parser: msgpackParser } : {}),
  ...(argv.recovery
    ? { connectionStateRecovery: {
        maxDisconnectionDuration: Number(argv["recovery-window"]),
        skipMiddlewares: false,
      }, }
    : {}),
});

/** Acknowledge with `args` if the last received argument is an ack callback. */
function splitAck(args) {
  if (args.length && typeof args[args.length - 1] === "function") {
    return [args.slice(0, -1), args[args.length - 1]];
  }
  return [args, () => {}];
}

function onEcho(socket) {
  socket.on("echo", (...all) => {
    const [args, ack] = splitAck(all);
    ack(...args);
  });
}

function blob(n) {
  const buf = Buffer.alloc(n);
  for (let i = 0; i < n; i++) buf[i] = i % 256;
  return buf;
}

// ---- namespace "/" ---------------------------------------------------------
const main = io.of("/");

main.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token === "bad") {
    const err = new Error("unauthorized");
    err.data = { reason: "bad token" };
    return next(err);
  }
  next();
});

main.on("connection", (socket) => {
  const auth = socket.handshake.auth || {};
  const user = auth.user ?? "anon";
  socket.data.user = user;
  if (!auth.quiet) socket.emit("welcome", { sid: socket.id, user });

  onEcho(socket);

  socket.on("join", (...all) => {
    const [[room], ack] = splitAck(all);
    socket.join(room);
    ack(true);
  });

  socket.on("leave", (...all) => {
    const [[room], ack] = splitAck(all);
    socket.leave(room);
    ack(true);
  });

  socket.on("say", (...all) => {
    const [[body], ack] = splitAck(all);
    const { room, msg, exclude_self: excludeSelf } = body || {};
    const target = excludeSelf ? socket.to(room) : main.to(room);
    target.emit("said", { from: socket.id, msg });
    ack("ok");
  });

  socket.on("broadcast", (...all) => {
    const [[msg], ack] = splitAck(all);
    socket.broadcast.emit("broadcasted", msg);
    ack("ok");
  });

  socket.on("ask", (...all) => {
    const [[payload], ack] = splitAck(all);
    socket.timeout(5000).emit("question", payload, (err, ...answer) => {
      if (err) ack({ error: "timeout" });
      else ack({ answer: answer[0] });
    });
  });

  socket.on("make_binary", (...all) => {
    const [[n], ack] = splitAck(all);
    const data = blob(Number(n) || 0);
    socket.emit("bin", {
      blob: data,
      list: [Buffer.from([1, 2]), "text", Buffer.from([255])],
    });
    ack(data);
  });

  socket.on("volatile", (...all) => {
    const [[n], ack] = splitAck(all);
    for (let i = 0; i < (Number(n) || 0); i++) socket.volatile.emit("v", i);
    ack("done");
  });

  socket.on("disconnect_me", () => {
    socket.disconnect(false);
  });

  socket.on("rooms", (...all) => {
    const [, ack] = splitAck(all);
    ack([...socket.rooms].filter((r) => r !== socket.id).sort());
  });
});

// ---- namespace "/admin" ----------------------------------------------------
const admin = io.of("/admin");
admin.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token !== "admin") return next(new Error("forbidden"));
  next();
});
admin.on("connection", (socket) => onEcho(socket));

// ---- dynamic namespaces ----------------------------------------------------
io.of(/^\/dyn-[a-z0-9]+$/).on("connection", (socket) => {
  socket.emit("hello", socket.nsp.name);
  onEcho(socket);
});

// ---- lifecycle -------------------------------------------------------------
let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  // io.close() closes every client connection and the HTTP server.
  io.close(() => process.exit(0));
  // Keep-alive polling requests may hold the HTTP server open: do not wait.
  setTimeout(() => process.exit(0), 500).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

httpServer.on("error", (err) => {
  process.stderr.write(`reference_server: ${err.stack || err}\n`);
  process.exit(1);
});
httpServer.listen(Number(argv.port), argv.host, () => {
  process.stdout.write(`READY ${httpServer.address().port}\n`);
});
