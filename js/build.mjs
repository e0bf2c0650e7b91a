// Builds the browser assets that the Python package serves or embeds (output is git-ignored
// and produced by the package build, hatch_build.py):
// - jupyter_sio/static/vendor/socket.io.min.js: the official client for plain pages (demo page)
// - jupyter_sio/widgets/static/widgets.js: the anywidget ESM module, one self-contained file
//   (anywidget imports it from a blob: URL, where relative imports cannot resolve) bundling
//   js/src/ and socket.io-client.
// `node build.mjs --dev` keeps the widget bundle unminified with an inline source map.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const pkg = join(here, "..", "jupyter_sio");
const dev = process.argv.includes("--dev");

const clientDist = join(dirname(require.resolve("socket.io-client/package.json")), "dist");
mkdirSync(join(pkg, "static", "vendor"), { recursive: true });
copyFileSync(join(clientDist, "socket.io.min.js"), join(pkg, "static", "vendor", "socket.io.min.js"));
console.log("built jupyter_sio/static/vendor/socket.io.min.js");

const outfile = join(pkg, "widgets", "static", "widgets.js");
await build({
  entryPoints: [join(here, "src", "index.js")],
  outfile,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  minify: !dev,
  sourcemap: dev ? "inline" : false,
  legalComments: "eof",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});
console.log("built jupyter_sio/widgets/static/widgets.js");
