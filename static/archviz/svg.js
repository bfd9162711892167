// Making SVG elements from data: every text goes in through textContent and every value through setAttribute,
// never markup.

export const SVG = "http://www.w3.org/2000/svg";

export function node(name, attributes = {}, text = null) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== null) element.textContent = text;
  return element;
}

// A text cut to `chars` characters, the last of them an ellipsis when it was longer.
export function clip(text, chars) {
  return text.length > chars ? `${text.slice(0, Math.max(chars - 1, 1))}…` : text;
}
