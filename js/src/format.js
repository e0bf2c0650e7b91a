// Value formatting with a subset of Python's format-spec mini-language (the `fmt` trait is
// written in Python: ".3g", ".2f", ",d", ".1%", ",.0f", ".2e"), trends and sparklines.

const SPEC = /^(,)?(?:\.(\d+))?([fgeEd%s])?$/;

/** Group thousands of an unsigned digit string. @param {string} digits */
function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Python-style exponent: e+03, e-05. @param {string} s */
function pyExponent(s) {
  return s.replace(/e([+-])(\d)$/, "e$10$2");
}

/** Python's `g` for a finite number. @param {number} x @param {number} p */
function general(x, p) {
  if (x === 0) return "0";
  const precision = p === 0 ? 1 : p;
  const exp = Number(x.toExponential(precision - 1).split("e")[1]);
  let out;
  if (exp >= -4 && exp < precision) {
    out = x.toFixed(Math.max(0, precision - 1 - exp));
    if (out.includes(".")) out = out.replace(/0+$/, "").replace(/\.$/, "");
  } else {
    const [mant, e] = x.toExponential(precision - 1).split("e");
    const m = mant.includes(".") ? mant.replace(/0+$/, "").replace(/\.$/, "") : mant;
    out = pyExponent(`${m}e${e}`);
  }
  return out;
}

/**
 * Format a metric value. Strings pass through; numbers follow `fmt`; `unit` is appended.
 * @param {unknown} value
 * @param {string} [fmt]
 * @param {string} [unit]
 * @returns {string}
 */
export function formatValue(value, fmt = ".3g", unit = "") {
  const suffix = unit ? (unit === "%" ? unit : ` ${unit}`) : "";
  if (value === null || value === undefined) return "–";
  if (typeof value === "boolean") return String(value) + suffix;
  if (typeof value !== "number") {
    return (typeof value === "string" ? value : JSON.stringify(value)) + suffix;
  }
  if (Number.isNaN(value)) return "nan" + suffix;
  if (!Number.isFinite(value)) return (value > 0 ? "inf" : "-inf") + suffix;
  const m = SPEC.exec(fmt || "");
  if (!m) return String(value) + suffix;
  const [, comma, precStr, type = "g"] = m;
  const prec = precStr === undefined ? undefined : Number(precStr);
  const neg = value < 0 || Object.is(value, -0);
  const x = Math.abs(value);
  let body;
  switch (type) {
    case "f":
      body = x.toFixed(prec ?? 6);
      break;
    case "e":
    case "E":
      body = pyExponent(x.toExponential(prec ?? 6));
      if (type === "E") body = body.toUpperCase();
      break;
    case "%":
      body = (x * 100).toFixed(prec ?? 6) + "%";
      break;
    case "d":
      body = Math.round(x).toFixed(0);
      break;
    case "s":
      body = String(x);
      break;
    default:
      body = prec === undefined ? String(x) : general(x, prec);
  }
  if (comma) {
    const [int, ...rest] = body.split(/(?=[.e%])/);
    if (/^\d+$/.test(int)) body = group(int) + rest.join("");
  }
  const sign = neg && /[1-9]/.test(body) ? "-" : "";
  return sign + body + (type === "%" && unit === "%" ? "" : suffix);
}

/**
 * Direction of the last change.
 * @param {number[]} values
 * @returns {"up" | "down" | "flat" | "none"}
 */
export function trend(values) {
  if (values.length < 2) return "none";
  const a = values[values.length - 2];
  const b = values[values.length - 1];
  if (b > a) return "up";
  if (b < a) return "down";
  return "flat";
}

export const TREND_ARROW = { up: "▲", down: "▼", flat: "▶", none: "" };

/**
 * SVG polyline points for a sparkline of `values` in a `width` × `height` box.
 * @param {number[]} values
 * @param {number} width
 * @param {number} height
 * @returns {string}
 */
export function sparkPoints(values, width, height) {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return "";
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  const n = finite.length;
  const step = n > 1 ? width / (n - 1) : 0;
  const pad = 1;
  return finite
    .map((v, i) => {
      const x = n > 1 ? i * step : width / 2;
      const y = pad + (height - 2 * pad) * (1 - (v - lo) / (hi - lo));
      return `${round1(x)},${round1(y)}`;
    })
    .join(" ");
}

/** @param {number} v */
function round1(v) {
  return Math.round(v * 10) / 10;
}

/**
 * "12 s ago"-style age for a timestamp in epoch seconds.
 * @param {number | undefined} t
 * @param {number} nowSeconds
 */
export function age(t, nowSeconds) {
  if (typeof t !== "number" || !Number.isFinite(t)) return "";
  const d = Math.max(0, nowSeconds - t);
  if (d < 1) return "now";
  if (d < 60) return `${Math.floor(d)} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  return `${Math.floor(d / 3600)} h ago`;
}

/** Short clock time (HH:MM:SS) for epoch seconds. @param {number} t */
export function clock(t) {
  const d = new Date(t * 1000);
  const two = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
