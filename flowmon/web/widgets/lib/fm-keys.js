// Keyboard shortcuts, the part that needs no page (flowmon/web/widgets/shortcuts.js uses it): which action a key,
// or a two-key sequence such as "g e", stands for, and whether a key press belongs to a field being typed in.

// key (or "first second") -> action; shortcuts.py lists the same in the `?` dialog.
export const BINDINGS = {
  "?": "help",
  "/": "search",
  "g d": "go:/",
  "g w": "workflows",
  "g e": "go:/executions",
  "g h": "go:/webhooks",
  "g s": "go:/secrets",
  r: "run",
  c: "cancel",
};

const EDITABLE = "input, textarea, select, [contenteditable]:not([contenteditable='false']), .cm-editor";

// Whether a key press aimed at `target` is typing (in an input, a text area, a select, an editor): never a shortcut.
export function isTyping(target) {
  if (!target || typeof target.closest !== "function") return false;
  return target.isContentEditable === true || target.closest(EDITABLE) !== null;
}

// A function of one key that answers the action it completes, or null (nothing, or the first key of a sequence,
// which waits at most `timeoutMs` for its second key).
export function keySequencer(bindings = BINDINGS, { timeoutMs = 1500, now = () => Date.now() } = {}) {
  const prefixes = new Set(
    Object.keys(bindings)
      .filter((combo) => combo.includes(" "))
      .map((combo) => combo.split(" ")[0]),
  );
  let pending = null;
  let since = 0;
  return (key) => {
    const moment = now();
    if (pending !== null && moment - since <= timeoutMs) {
      const combo = `${pending} ${key}`;
      pending = null;
      if (Object.hasOwn(bindings, combo)) return bindings[combo];
    }
    pending = null;
    if (prefixes.has(key)) {
      pending = key;
      since = moment;
      return null;
    }
    return Object.hasOwn(bindings, key) ? bindings[key] : null;
  };
}
