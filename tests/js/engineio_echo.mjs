// engine.io-client (npm) against a plain Engine.IO server that echoes every message:
// node engineio_echo.mjs <url> <transports: polling|websocket|polling,websocket> [path]
// Sends a text and a binary message, prints one JSON line: what came back and on which
// transport, then exits (exit code 1 on a timeout or error).
import { Socket } from "engine.io-client";

const [url, transports, path = "/engine.io/"] = process.argv.slice(2);
const socket = new Socket(url, { transports: transports.split(","), path });
const got = [];
const timer = setTimeout(() => finish("timeout"), 30_000);

function finish(error) {
  clearTimeout(timer);
  console.log(JSON.stringify({ error, got, transport: socket.transport?.name ?? null }));
  socket.close();
  // Give the close packet (a polling POST) a moment to leave before the process does.
  setTimeout(() => process.exit(error ? 1 : 0), 500);
}

socket.on("error", (err) => finish(String(err)));
socket.on("open", () => {
  const start = () => {
    socket.send("hello");
    socket.send(new Uint8Array([1, 2, 3, 250]));
  };
  // With an upgrade, wait for it, so the echo is checked on the WebSocket too.
  if (transports.includes(",")) socket.once("upgrade", start);
  else start();
});
socket.on("message", (data) => {
  got.push(typeof data === "string" ? data : Array.from(new Uint8Array(data)));
  if (got.length === 2) finish(null);
});
