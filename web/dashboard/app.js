// @ts-check
/**
 * The web dashboard: one event stream from the node that served this page
 * (GET /v1/dashboard/stream), drawn into the static markup of index.html.
 * Plain browser JavaScript, shipped as is (no build step, no CDN). Text from
 * the node goes in through textContent only, never as HTML.
 */

const TOKEN_KEY = 'swarm.api_token';
const HOUR_MS = 60 * 60 * 1000;
const STATUS_ORDER = { alive: 0, suspect: 1, dead: 2, left: 3 };

/** @param {string} id */
function $(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`missing #${id}`);
  return el;
}

/** @param {string} text @param {string} [state] */
function setConn(text, state) {
  const el = $('conn');
  el.textContent = text;
  el.dataset.state = state ?? text;
}

/** @param {number | null | undefined} w */
function watts(w) {
  if (w === null || w === undefined || !Number.isFinite(w)) return '–';
  return w >= 10 ? `${w.toFixed(1)} W` : `${w.toFixed(2)} W`;
}

/** @param {string | null | undefined} iso */
function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} [children]
 */
function el(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.dataset[k.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// ---- power history, kept in the page: the node's hour plus the points seen live ----

/** @type {Map<string, {name: string, points: [number, number][]}>} */
const history = new Map();

/** @param {{id: string, name: string, points: [number, number][]}[]} series */
function mergeHistory(series) {
  for (const s of series) {
    let h = history.get(s.id);
    if (h === undefined) {
      h = { name: s.name, points: [] };
      history.set(s.id, h);
    }
    h.name = s.name;
    for (const p of s.points) {
      const last = h.points[h.points.length - 1];
      if (last === undefined || p[0] > last[0]) h.points.push([p[0], p[1]]);
    }
  }
  const oldest = Date.now() - HOUR_MS;
  for (const [id, h] of history) {
    while (h.points.length > 0 && h.points[0][0] < oldest) h.points.shift();
    if (h.points.length === 0) history.delete(id);
  }
}

/** Energy over the points (trapezoids), in watt-hours. @param {[number, number][]} pts */
function wattHours(pts) {
  let j = 0;
  for (let i = 1; i < pts.length; i++)
    j += ((pts[i][1] + pts[i - 1][1]) / 2) * ((pts[i][0] - pts[i - 1][0]) / 1000);
  return j / 3600;
}

/**
 * @param {HTMLCanvasElement} canvas
 * @param {[number, number][]} pts
 * @param {string} color
 */
function drawChart(canvas, pts, color) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(100, canvas.clientWidth);
  const h = Math.max(60, canvas.clientHeight);
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const g = canvas.getContext('2d');
  if (g === null) return;
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, h);
  const now = Date.now();
  // Up to the last hour; a node up for less shows what it has over at least 5 minutes, not a sliver.
  const span = Math.min(HOUR_MS, Math.max(5 * 60 * 1000, pts.length > 0 ? now - pts[0][0] : 0));
  const x0 = now - span;
  const max = Math.max(0.1, ...pts.map((p) => p[1])) * 1.15;
  const pad = { l: 4, r: 4, t: 14, b: 14 };
  const X = (/** @type {number} */ t) => pad.l + ((t - x0) / span) * (w - pad.l - pad.r);
  const Y = (/** @type {number} */ v) => h - pad.b - (v / max) * (h - pad.t - pad.b);
  g.strokeStyle = '#26313d';
  g.lineWidth = 1;
  for (const f of [0, 0.5, 1]) {
    g.beginPath();
    g.moveTo(pad.l, Y(max * f * 0.87));
    g.lineTo(w - pad.r, Y(max * f * 0.87));
    g.stroke();
  }
  g.fillStyle = '#8593a1';
  g.font = '10px system-ui, sans-serif';
  g.fillText(watts(max / 1.15), pad.l, 10);
  g.fillText(`−${Math.round(span / 60000)} min`, pad.l, h - 2);
  g.fillText('now', w - pad.r - 20, h - 2);
  if (pts.length === 0) return;
  g.strokeStyle = color;
  g.lineWidth = 1.5;
  g.beginPath();
  pts.forEach((p, i) => (i === 0 ? g.moveTo(X(p[0]), Y(p[1])) : g.lineTo(X(p[0]), Y(p[1]))));
  g.stroke();
  g.globalAlpha = 0.15;
  g.fillStyle = color;
  g.lineTo(X(pts[pts.length - 1][0]), Y(0));
  g.lineTo(X(pts[0][0]), Y(0));
  g.closePath();
  g.fill();
  g.globalAlpha = 1;
}

// ---- rendering one snapshot ----

/** @typedef {{id: string, name: string, device_class: string, status: string, raft_role: string | null, self: boolean, last_change: string, addresses: {api: string | null}, energy: {power_w: number | null, battery_percent: number | null, power_state: string | null, rating: string | null} | null}} Member */

/** @param {any} snap */
function render(snap) {
  const status = snap.status ?? {};
  const view = snap.members;
  /** @type {Member[]} */
  const members = view?.members ?? [];
  const names = new Map(members.map((m) => [m.id, m.name]));
  const leaderId = view?.leader ?? status.leader ?? null;

  $('node-name').textContent = status.name ? `· ${status.name}` : '';
  document.title = status.name ? `Swarm · ${status.name}` : 'Swarm dashboard';
  const alive = members.filter((m) => m.status === 'alive').length;
  $('sum-members').textContent = view ? `${members.length} (${alive} alive)` : 'gossip not running';
  const leader = $('leader');
  leader.textContent = leaderId ? (names.get(leaderId) ?? leaderId) : 'none';
  leader.dataset.id = leaderId ?? '';
  $('term').textContent = String(status.term ?? '–');
  $('commit').textContent = String(status.commit_index ?? '–');
  const a = view?.adaptive;
  $('gossip-mode').textContent = a ? `${a.mode}, ${a.interval_ms} ms, fanout ${a.fanout}` : '–';
  $('gossip-why').textContent = a ? (a.why ? `${a.why} (${a.reason})` : a.reason) : '–';
  const sec = status.security;
  $('security').textContent = sec
    ? `${sec.gossip_encrypted ? 'gossip encrypted' : (sec.note ?? 'gossip unencrypted')}` +
      (sec.refused_peers?.length
        ? `; refused peers: ${sec.refused_peers.map((p) => p.address).join(', ')}`
        : '')
    : '–';
  const live = members.filter((m) => m.status === 'alive' || m.status === 'suspect');
  const reporting = live.filter((m) => m.energy?.power_w != null);
  $('swarm-power').textContent = reporting.length
    ? `${watts(reporting.reduce((s, m) => s + (m.energy?.power_w ?? 0), 0))} (${reporting.length}/${live.length})`
    : '–';

  const sorted = [...members].sort(
    (x, y) =>
      (STATUS_ORDER[/** @type {keyof STATUS_ORDER} */ (x.status)] ?? 9) -
        (STATUS_ORDER[/** @type {keyof STATUS_ORDER} */ (y.status)] ?? 9) || x.name.localeCompare(y.name),
  );
  const tbody = /** @type {HTMLTableElement} */ ($('members')).tBodies[0];
  tbody.replaceChildren(
    ...sorted.map((m) => {
      const isLeader = m.id === leaderId;
      const e = m.energy;
      const battery = e?.battery_percent == null ? 'mains' : `${Math.round(e.battery_percent)}%`;
      return el(
        'tr',
        { 'data-id': m.id, 'data-name': m.name, 'data-status': m.status, class: m.self ? 'self' : '' },
        [
          el('td', { title: m.id }, [
            ...(isLeader ? [el('span', { class: 'leader-mark', title: 'leader' }, ['★'])] : []),
            m.name,
          ]),
          el('td', {}, [el('span', { class: `state state-${m.status}` }, [m.status])]),
          el('td', {}, [m.device_class]),
          el('td', {}, [m.raft_role ?? '–']),
          el('td', { class: 'num' }, [watts(e?.power_w)]),
          el('td', { class: 'num' }, [e === null ? '–' : battery]),
          el('td', {}, [e?.rating ?? '–']),
          el('td', {}, [m.addresses.api ?? '–']),
          el('td', { title: m.last_change }, [ago(m.last_change)]),
        ],
      );
    }),
  );

  renderTasks(snap.tasks, names);

  mergeHistory(snap.history ?? []);
  const charts = $('charts');
  const byId = new Map(members.map((m) => [m.id, m]));
  const ids = [...new Set([...sorted.map((m) => m.id), ...history.keys()])].filter((id) => history.has(id));
  const cards = ids.map((id) => {
    const h = /** @type {{name: string, points: [number, number][]}} */ (history.get(id));
    const st = byId.get(id)?.status ?? 'left';
    let card = /** @type {HTMLElement | null} */ (charts.querySelector(`[data-id="${CSS.escape(id)}"]`));
    if (card === null) {
      card = el('div', { class: 'chart', 'data-id': id }, [
        el('div', { class: 'head' }, [el('strong'), el('span', { class: 'muted' })]),
        el('canvas'),
      ]);
    }
    const last = h.points[h.points.length - 1];
    const head = /** @type {HTMLElement} */ (card.querySelector('.head'));
    /** @type {HTMLElement} */ (head.children[0]).textContent = h.name;
    /** @type {HTMLElement} */ (head.children[1]).textContent =
      `${st === 'alive' || st === 'suspect' ? `now ${watts(last?.[1])}` : st}, ${wattHours(h.points).toFixed(3)} Wh`;
    return card;
  });
  charts.replaceChildren(...cards);
  for (const card of cards) {
    const id = card.dataset.id ?? '';
    const st = byId.get(id)?.status ?? 'left';
    const color = st === 'alive' ? '#3fb950' : st === 'suspect' ? '#d29922' : '#8593a1';
    drawChart(
      /** @type {HTMLCanvasElement} */ (card.querySelector('canvas')),
      history.get(id)?.points ?? [],
      color,
    );
  }
  $('updated').textContent = `Updated ${new Date(snap.at).toLocaleTimeString()}.`;
}

/** A state field that may be a string or an object holding one. @param {any} v */
function stateOf(v) {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof v.state === 'string') return v.state;
  return '';
}

/**
 * Tasks grouped by the node they run on, when this node serves /v1/tasks:
 * a task's allocations (`allocations`/`allocs`, each with its node) or, for a
 * flat list, the task's own node field.
 * @param {any} tasks
 * @param {Map<string, string>} names
 */
function renderTasks(tasks, names) {
  const section = $('tasks-section');
  const list = Array.isArray(tasks)
    ? tasks
    : Array.isArray(tasks?.tasks)
      ? tasks.tasks
      : Array.isArray(tasks?.items)
        ? tasks.items
        : null;
  if (list === null) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  /** @type {Map<string, {name: string, items: {label: string, state: string}[]}>} */
  const byNode = new Map();
  const add = (
    /** @type {any} */ node,
    /** @type {any} */ nodeName,
    /** @type {string} */ label,
    /** @type {string} */ state,
  ) => {
    const key = node == null ? '' : String(node);
    const name = key === '' ? 'not placed' : (nodeName ?? names.get(key) ?? key);
    const entry = byNode.get(key) ?? { name, items: [] };
    entry.items.push({ label, state });
    byNode.set(key, entry);
  };
  for (const t of list) {
    const name = String(t.name ?? t.id ?? t.task ?? t.spec?.name ?? '?');
    const allocs = Array.isArray(t.allocations) ? t.allocations : Array.isArray(t.allocs) ? t.allocs : null;
    if (allocs === null || allocs.length === 0) {
      add(
        t.node ?? t.node_id ?? t.placement?.node ?? null,
        t.node_name,
        name,
        stateOf(t.state ?? t.status ?? t.desired),
      );
      continue;
    }
    for (const a of allocs)
      add(
        a.node ?? a.node_id ?? null,
        a.node_name,
        a.n === undefined ? name : `${name}.${a.n}`,
        stateOf(a.state ?? a.status ?? a.desired),
      );
  }
  const box = $('tasks');
  if (list.length === 0) {
    box.replaceChildren(el('p', { class: 'muted' }, ['No tasks.']));
    return;
  }
  box.replaceChildren(
    ...[...byNode.entries()].map(([node, entry]) =>
      el('div', { class: 'node', 'data-node': node }, [
        el('strong', {}, [entry.name]),
        el(
          'ul',
          {},
          entry.items.map((i) =>
            el('li', {}, [i.label, el('span', { class: 'muted' }, [i.state ? ` ${i.state}` : ''])]),
          ),
        ),
      ]),
    ),
  );
}

// ---- the stream ----

let retryMs = 1000;

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** @param {string} message */
function askToken(message) {
  setConn('token needed', 'token');
  $('token-panel').hidden = false;
  $('token-error').textContent = message;
  /** @type {HTMLInputElement} */ ($('token-input')).focus();
}

/** Parse server-sent events from a fetch body; calls `onEvent(name, data)` per event. */
async function readEvents(
  /** @type {ReadableStream<Uint8Array>} */ body,
  /** @type {(name: string, data: string) => void} */ onEvent,
) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) onEvent(name, data.join('\n'));
    }
  }
}

async function connect() {
  const t = token();
  /** @type {Record<string, string>} */
  const headers = { accept: 'text/event-stream' };
  // EventSource cannot send headers: a fetch stream carries the token without putting it in the URL.
  if (t) headers.authorization = `Bearer ${t}`;
  let res;
  try {
    res = await fetch('/v1/dashboard/stream', { headers, cache: 'no-store' });
  } catch {
    return reconnect('node unreachable');
  }
  if (res.status === 401) {
    if (t) sessionStorage.removeItem(TOKEN_KEY);
    return askToken(t ? 'That token was refused.' : '');
  }
  if (!res.ok || res.body === null) {
    let msg = `HTTP ${res.status}`;
    try {
      msg = (await res.json()).error?.message ?? msg;
    } catch {
      // not JSON
    }
    return reconnect(msg);
  }
  $('token-panel').hidden = true;
  try {
    await readEvents(res.body, (name, data) => {
      if (name !== 'snapshot') return;
      setConn('live');
      retryMs = 1000;
      render(JSON.parse(data));
    });
    reconnect('stream ended');
  } catch {
    reconnect('connection lost');
  }
}

/** @param {string} why */
function reconnect(why) {
  setConn(`reconnecting… (${why})`, 'reconnecting');
  setTimeout(connect, retryMs);
  retryMs = Math.min(retryMs * 2, 15_000);
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('token-input'));
  const value = input.value.trim();
  if (value === '') return;
  sessionStorage.setItem(TOKEN_KEY, value);
  input.value = '';
  $('token-panel').hidden = true;
  setConn('connecting…', 'connecting');
  void connect();
});

void connect();
