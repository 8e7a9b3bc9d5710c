// A small ANSI renderer: SGR colours and styles become classes (the 16
// colours) or CSSOM properties (256 colours and truecolour): the page's
// Content-Security-Policy forbids inline style attributes, not CSSOM.
// Every other escape sequence is dropped. Text is only ever inserted as
// text nodes, never as HTML.

const PALETTE16 = ['#000000', '#cd3131', '#0dbc79', '#e5e510', '#2472c8', '#bc3fbc',
  '#11a8cd', '#e5e5e5', '#666666', '#f14c4c', '#23d18b', '#f5f543', '#3b8eea',
  '#d670d6', '#29b8db', '#ffffff'];

function color256(n) {
  if (n < 16) return PALETTE16[n];
  if (n < 232) {
    n -= 16;
    const v = (x) => (x === 0 ? 0 : 55 + x * 40);
    return `rgb(${v(Math.floor(n / 36))},${v(Math.floor(n / 6) % 6)},${v(n % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

// The state an SGR sequence leaves; carried from one line to the next.
export function newState() {
  return { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
}

function sgr(st, params) {
  const p = params.length ? params.split(';').map((x) => (x === '' ? 0 : parseInt(x, 10))) : [0];
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === 0) Object.assign(st, newState());
    else if (c === 1) st.bold = true;
    else if (c === 2) st.dim = true;
    else if (c === 3) st.italic = true;
    else if (c === 4) st.underline = true;
    else if (c === 22) { st.bold = false; st.dim = false; }
    else if (c === 23) st.italic = false;
    else if (c === 24) st.underline = false;
    else if (c >= 30 && c <= 37) st.fg = c - 30;
    else if (c >= 90 && c <= 97) st.fg = c - 90 + 8;
    else if (c === 39) st.fg = null;
    else if (c >= 40 && c <= 47) st.bg = c - 40;
    else if (c >= 100 && c <= 107) st.bg = c - 100 + 8;
    else if (c === 49) st.bg = null;
    else if (c === 38 || c === 48) {
      let col = null;
      if (p[i + 1] === 5 && i + 2 < p.length) {
        col = color256(p[i + 2] & 255);
        i += 2;
      } else if (p[i + 1] === 2 && i + 4 < p.length) {
        col = `rgb(${p[i + 2] & 255},${p[i + 3] & 255},${p[i + 4] & 255})`;
        i += 4;
      }
      if (c === 38) st.fg = col; else st.bg = col;
    }
  }
}

function span(st, text) {
  if (st.fg === null && st.bg === null && !st.bold && !st.dim && !st.italic && !st.underline) {
    return document.createTextNode(text);
  }
  const s = document.createElement('span');
  const cls = [];
  if (typeof st.fg === 'number') cls.push('f' + st.fg);
  else if (st.fg) s.style.color = st.fg;
  if (typeof st.bg === 'number') cls.push('b' + st.bg);
  else if (st.bg) s.style.backgroundColor = st.bg;
  if (st.bold) cls.push('ab');
  if (st.dim) cls.push('ad');
  if (st.italic) cls.push('ai');
  if (st.underline) cls.push('au');
  if (cls.length) s.className = cls.join(' ');
  s.textContent = text;
  return s;
}

// What a terminal would show of a line with carriage returns: the text after
// the last one (progress bars rewrite their line).
function lastCr(line) {
  let end = line.length;
  if (end && line[end - 1] === '\r') end--;
  const i = line.lastIndexOf('\r', end - 1);
  return i < 0 ? line.slice(0, end) : line.slice(i + 1, end);
}

// eslint-disable-next-line no-control-regex
const ESC = /\x1b(?:\[([0-9;?]*)([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])/g;

// Renders one line into `el`; `st` is the state at its start and is
// updated to the state at its end. Returns the line's plain text.
export function renderLine(el, line, st) {
  const text = lastCr(line);
  let plain = '';
  let last = 0;
  ESC.lastIndex = 0;
  let m;
  while ((m = ESC.exec(text)) !== null) {
    if (m.index > last) {
      const t = text.slice(last, m.index);
      el.appendChild(span(st, t));
      plain += t;
    }
    if (m[2] === 'm') sgr(st, m[1]);
    last = ESC.lastIndex;
  }
  if (last < text.length) {
    const t = text.slice(last);
    el.appendChild(span(st, t));
    plain += t;
  }
  return plain;
}

// The plain text of a line (for search): escapes removed.
export function plainText(line) {
  return lastCr(line).replace(ESC, '');
}

// The SGR state at the end of a line, without rendering it.
export function advance(line, st) {
  ESC.lastIndex = 0;
  let m;
  while ((m = ESC.exec(line)) !== null) {
    if (m[2] === 'm') sgr(st, m[1]);
  }
}
