// The official Node socket.io 4.8 server running the bench app (reference peer).
// node benchmarks/servers/node_socketio.mjs --port N [--host 127.0.0.1]
import { createServer } from "node:http";
import { Server } from "socket.io";

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const host = opt("host", "127.0.0.1");
const port = Number(opt("port"));
if (!["127.0.0.1", "localhost", "::1"].includes(host) || !port) {
  console.error("usage: node_socketio.mjs --port N [--host 127.0.0.1]");
  process.exit(2);
}

const httpServer = createServer();
const io = new Server(httpServer, {
  path: "/socket.io/",
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  perMessageDeflate: false,
  httpCompression: false,
  cors: { origin: "*" },
  serveClient: false,
});

io.on("connection", (socket) => {
  const room = socket.handshake.auth && socket.handshake.auth.room;
  if (room) socket.join(room);
  socket.on("publish", (msg) => {
    io.to(msg.room).emit("tick", msg);
  });
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});

httpServer.listen(port, host, 4096);
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
