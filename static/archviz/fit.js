// A text fitted into a width: the lines it takes, the last cut with "…" when it does not all fit.
// Pure: `measure(text)` gives a text's width in pixels, so that the browser measures with its own fonts
// and the tests with a rule.

const ELLIPSIS = "…";
// Where a long word may break: after these characters (paths, references, digests), else anywhere.
const BREAK_AFTER = new Set([" ", "/", "-", ":", "@", ",", ".", "_", "=", "&", "?"]);

// The longest prefix of `text` (in characters) whose width with `suffix` fits `room`.
function longestPrefix(text, room, measure, suffix = "") {
  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (measure(text.slice(0, middle) + suffix) <= room) low = middle;
    else high = middle - 1;
  }
  return low;
}

// Where to end a line of at most `chars` characters: after its last space, so that words stay whole;
// in a text without one (a path, a reference, a digest), after the last break character in its second
// half; else where the room ends.
function lineEnd(text, chars) {
  const space = text.lastIndexOf(" ", chars);
  if (space > 0) return space + 1;
  for (let index = chars; index > chars / 2; index -= 1) {
    if (BREAK_AFTER.has(text[index - 1])) return index;
  }
  return Math.max(chars, 1);
}

export function fitLines(text, room, maxLines, measure) {
  const lines = [];
  let rest = String(text).replace(/\s+/g, " ").trim();
  while (rest && lines.length < maxLines) {
    if (measure(rest) <= room) {
      lines.push(rest);
      return lines;
    }
    if (lines.length === maxLines - 1) {
      const chars = longestPrefix(rest, room, measure, ELLIPSIS);
      lines.push(`${rest.slice(0, chars).trimEnd()}${ELLIPSIS}`);
      return lines;
    }
    const end = lineEnd(rest, longestPrefix(rest, room, measure));
    lines.push(rest.slice(0, end).trimEnd());
    rest = rest.slice(end).trimStart();
  }
  return lines.length > 0 ? lines : [""];
}
