// Whether a widget view still has its Python side, and what to tell the user when not.
//
// When a kernel restarts, JupyterLab's widget manager marks every model of the old kernel
// dead (`model.comm_live = false`: their Python objects are gone) and ipywidgets'
// DOMWidgetView reacts by adding the class `jupyter-widgets-disconnected` to the view's
// element, which draws a bare broken-link icon. The views stay on the page. Our widgets'
// hub sockets live in the browser (session.js), so a view that only shows a room keeps
// updating; what is lost is the Python object (trait changes, `close()`, the comm relay) and
// whatever the kernel served (a Poll's votes). So instead of the icon the view says that, and
// how to get a fresh widget: run the cells again.
//
// anywidget hands views a model proxy without `comm_live`, and (anywidget 0.11) removes the
// view's own "comm_live_update" listener before rendering (`model.off(null, null, view)`),
// so its views never get that class. So the view listens to "comm_live_update" itself: the
// proxy registers listeners with the view as their context (`this`), whose model says
// `comm_live`; where the host does mark the element (plain ipywidgets views), the class
// counts too.

export const DISCONNECTED_CLASS = "jupyter-widgets-disconnected";

/** The way back, the same for every widget. */
export const RERUN = "Run the notebook's cells again (Run ▸ Run All Cells) to get a fresh widget.";

/** What still works, per widget kind (`%s`: the rooms). */
const STILL = {
  metric: "It still shows %s live from the hub.",
  table: "It still shows %s live from the hub.",
  chart: "It still shows %s live from the hub.",
  feed: "It still shows %s live from the hub.",
  presence: "It still shows who is in %s.",
  chat: "You can still chat in %s.",
  poll: "Votes are counted by the kernel: they count again once the poll is started again.",
  inspector: "It still shows the hub.",
};

/**
 * Has the view's model lost its kernel side? (ipywidgets marked its element.)
 * @param {{classList?: {contains: (c: string) => boolean}} | null | undefined} el
 */
export function modelGone(el) {
  return !!el?.classList?.contains(DISCONNECTED_CLASS);
}

/** Kinds drawn small (a row of cards): their notice is one short line, the rest a tooltip. */
const COMPACT = new Set(["metric"]);

/** A widget on the comm fallback reached the hub through the kernel that restarted. */
const VIA_COMM = "It showed %s through the kernel (the comm fallback), so it no longer updates.";

/**
 * The notice a view shows once its model is gone: `text` is shown, `detail` (all of it) is
 * the tooltip.
 * @param {string} kind    the `_kind` trait
 * @param {string[]} rooms
 * @param {{comm?: boolean}} [options]  `comm`: the widget's channel is the comm relay
 * @returns {{title: string, text: string, detail: string}}
 */
export function goneNotice(kind, rooms, options = {}) {
  const where = rooms.length ? rooms.map((r) => `“${r}”`).join(", ") : "its rooms";
  const line = options.comm ? VIA_COMM : STILL[/** @type {keyof typeof STILL} */ (kind)] ?? STILL.feed;
  const still = line.replace("%s", where);
  const title = "The kernel restarted";
  const detail = `This widget's Python object is gone. ${still} ${RERUN}`;
  const text = COMPACT.has(kind) ? "Run the cells again (Run All) for a fresh widget." : detail;
  return { title, text, detail: `${title}. ${detail}` };
}

/**
 * Call `onChange(gone)` now and whenever the model's kernel side goes (or comes back).
 * @param {HTMLElement} el   the view's element (anywidget's `el`)
 * @param {any} model        the model proxy (for "comm_live_update")
 * @param {(gone: boolean) => void} onChange
 * @param {{MutationObserver?: any}} [env]  for tests; the browser's by default
 * @returns {() => void} stops watching
 */
export function watchModel(el, model, onChange, env = {}) {
  /** what the last "comm_live_update" said: true, false, or null before any */
  /** @type {boolean | null} */
  let live = null;
  const gone = () => modelGone(el) || live === false;
  let last = gone();
  const check = () => {
    const now = gone();
    if (now === last) return;
    last = now;
    onChange(now);
  };
  /**
   * The update's context is the view (anywidget's proxy passes it to Backbone); without
   * one to ask, an update after a model was created means its comm died.
   * @this {any}
   */
  const onUpdate = function () {
    const flag = this?.model?.comm_live;
    live = typeof flag === "boolean" ? flag : false;
    check();
  };
  onChange(last);
  const Observer = env.MutationObserver ?? globalThis.MutationObserver;
  const observer = typeof Observer === "function" ? new Observer(check) : null;
  observer?.observe(el, { attributes: true, attributeFilter: ["class"] });
  model.on("comm_live_update", onUpdate);
  return () => {
    observer?.disconnect();
    model.off("comm_live_update", onUpdate);
  };
}
