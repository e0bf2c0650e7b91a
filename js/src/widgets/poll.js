// Poll: the room's current question (retained "poll" {id, question, options, closed?}),
// votes with "vote" {poll, choice} and an ack (a kernel handler tallies, see
// jupyter_sio.widgets.publish.start_poll), live "poll_result" {id, counts, total}.

import { Store } from "../emitter.js";
import { drawOnChange, frame, h, setData, setText } from "../dom.js";

/**
 * @typedef {{id: string, question: string, options: string[], closed?: boolean}} PollInfo
 * @typedef {{id: string, counts: number[], total: number}} PollResult
 * @typedef {{poll: PollInfo | null, result: PollResult | null, voted: number | null,
 *   message: string, busy: boolean}} PollState
 */

/** @returns {PollState} */
export function emptyPoll() {
  return { poll: null, result: null, voted: null, message: "", busy: false };
}

/**
 * A new or updated poll; a different id resets the vote and the result.
 * @param {PollState} state
 * @param {any} poll
 */
export function applyPoll(state, poll) {
  if (!poll || typeof poll !== "object" || poll.id === undefined || !Array.isArray(poll.options)) return false;
  const info = {
    id: String(poll.id),
    question: String(poll.question ?? ""),
    options: poll.options.map(String),
    closed: !!poll.closed,
  };
  if (!state.poll || state.poll.id !== info.id) {
    state.voted = null;
    state.message = "";
    if (state.result && state.result.id !== info.id) state.result = null;
  }
  state.poll = info;
  return true;
}

/**
 * @param {PollState} state
 * @param {any} result
 */
export function applyResult(state, result) {
  if (!result || typeof result !== "object" || !Array.isArray(result.counts)) return false;
  const counts = result.counts.map((/** @type {any} */ c) => Number(c) || 0);
  state.result = {
    id: String(result.id),
    counts,
    total: typeof result.total === "number" ? result.total : counts.reduce((a, b) => a + b, 0),
  };
  return true;
}

/** Counts for the current poll (zeros when the result is for another poll). @param {PollState} state */
export function currentCounts(state) {
  const n = state.poll ? state.poll.options.length : 0;
  const r = state.result && state.poll && state.result.id === state.poll.id ? state.result : null;
  return {
    counts: Array.from({ length: n }, (_, i) => (r ? r.counts[i] ?? 0 : 0)),
    total: r ? r.total : 0,
  };
}

/** @param {number} count @param {number} total */
export function percent(count, total) {
  return total > 0 ? Math.round((count / total) * 100) : 0;
}

/** @param {{model: any, conn: import("../connection.js").Connection}} ctx */
export function setup({ model, conn }) {
  /** @type {Store<PollState>} */
  const store = new Store(emptyPoll());
  const offs = [
    conn.on("poll", (p) => {
      if (applyPoll(store.get(), p)) store.changed();
    }),
    conn.on("poll_result", (r) => {
      if (applyResult(store.get(), r)) store.changed();
    }),
  ];
  /** @param {number} choice */
  const vote = async (choice) => {
    const s = store.get();
    if (!s.poll || s.poll.closed || s.busy) return;
    const id = s.poll.id;
    store.update((st) => {
      st.busy = true;
      st.message = "";
    });
    try {
      const reply = await conn.call("vote", [{ poll: id, choice }]);
      store.update((st) => {
        if (reply && typeof reply === "object" && (reply.error || reply.ok === false)) {
          st.message = String(reply.message ?? reply.error);
        } else {
          st.voted = choice;
          if (reply && typeof reply === "object" && Array.isArray(reply.counts)) applyResult(st, { id, ...reply });
        }
      });
    } catch (err) {
      store.update((st) => {
        st.message = /** @type {Error} */ (err).message;
      });
    } finally {
      store.update((st) => {
        st.busy = false;
      });
    }
  };
  return {
    store,
    vote,
    dispose() {
      offs.forEach((off) => off());
    },
  };
}

/** @param {{model: any, el: HTMLElement, state: ReturnType<typeof setup>}} ctx */
export function view({ model, el, state }) {
  const f = frame(model, el, "jsio-poll", model.get("title") || "Poll");
  const question = h("div", { class: "jsio-poll-question" });
  const options = h("div", { class: "jsio-poll-options" });
  const total = h("div", { class: "jsio-poll-total" });
  const message = h("div", { class: "jsio-poll-status" });
  f.body.append(question, options, total, message);
  let shownPoll = "";
  /** @type {HTMLElement[]} */
  let buttons = [];

  const draw = () => {
    const s = state.store.get();
    const p = s.poll;
    setData(f.root, "poll", p ? p.id : "");
    setData(f.root, "closed", p ? !!p.closed : "");
    if (!p) {
      setText(question, "Waiting for a poll…");
      question.classList.add("jsio-poll-empty");
      return;
    }
    question.classList.remove("jsio-poll-empty");
    setText(question, p.question);
    const signature = `${p.id}\u0000${p.options.join("\u0000")}`;
    if (signature !== shownPoll) {
      shownPoll = signature;
      buttons = p.options.map((label, i) => {
        const bar = h("span", { class: "jsio-poll-bar" });
        const b = h(
          "button",
          { class: "jsio-poll-option", type: "button", dataset: { choice: i, label } },
          bar,
          h("span", { class: "jsio-poll-label", text: label }),
          h("span", { class: "jsio-poll-count" }),
        );
        b.addEventListener("click", () => state.vote(i));
        return b;
      });
      options.replaceChildren(...buttons);
    }
    const { counts, total: n } = currentCounts(s);
    buttons.forEach((b, i) => {
      setData(b, "count", counts[i]);
      setData(b, "voted", s.voted === i);
      /** @type {HTMLButtonElement} */ (b).disabled = !!p.closed || s.busy;
      const pct = percent(counts[i], n);
      /** @type {HTMLElement} */ (b.querySelector(".jsio-poll-bar")).style.width = `${pct}%`;
      setText(/** @type {HTMLElement} */ (b.querySelector(".jsio-poll-count")), `${counts[i]} · ${pct}%`);
    });
    setData(total, "total", n);
    setText(total, `${n} vote${n === 1 ? "" : "s"}${p.closed ? " · closed" : ""}`);
    setText(message, s.message);
  };
  const drawing = drawOnChange(state.store, draw);
  return () => {
    drawing.stop();
    f.dispose();
  };
}
