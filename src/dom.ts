/**
 * The DOM helpers of the panels.
 */

/** A new element with a class name and text. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text) {
    node.textContent = text;
  }
  return node;
}

/** A status chip (`FINISHED`, `RUNNING` ...) coloured by the theme's variables. */
export function statusChip(status: string): HTMLSpanElement {
  return h('span', `nbtl-chip nbtl-status nbtl-status-${status.toLowerCase()}`, status);
}

/** A dot in the run's colour (the same colour as in the inline views). */
export function colorDot(color: string): HTMLSpanElement {
  const dot = h('span', 'nbtl-dot');
  dot.style.background = color;
  return dot;
}

/** A panel's whole content when loading it failed: the error's message. */
export function loadError(error: unknown): HTMLDivElement {
  return h('div', 'nbtl-error-message', String((error as Error).message));
}
