// Builds the browser assets that the Python package serves or embeds:
// - jupyter_sio/static/vendor/socket.io.min.js: the official client for plain pages (demo page)
// The output is git-ignored and produced by the package build (hatch_build.py).
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const staticDir = join(here, "..", "jupyter_sio", "static");

const clientDist = join(dirname(require.resolve("socket.io-client/package.json")), "dist");
mkdirSync(join(staticDir, "vendor"), { recursive: true });
copyFileSync(join(clientDist, "socket.io.min.js"), join(staticDir, "vendor", "socket.io.min.js"));
console.log("built jupyter_sio/static/vendor/socket.io.min.js");
