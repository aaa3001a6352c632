/**
 * The dashboard page's script (served as /pcloud/dashboard/app.js): it reads /pcloud/dashboard/state every 2 seconds
 * and rebuilds the tables, live. Every value from the state is put in with textContent (never innerHTML), class names
 * come from fixed tables, and the console link is built only from an id that reads as an instance id: a tenant's
 * Name tag or a function's name is text, whatever it holds. `window.pcloudDashboard` says what it last showed (tests).
 */
export const DASHBOARD_SCRIPT = `'use strict';
(() => {
  const EVERY_MS = 2000;
  const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
  const TONES = { running: 'ok', ok: 'ok', pending: 'warn', stopping: 'warn', 'shutting-down': 'warn', initializing: 'warn',
    'insufficient-data': 'warn', stopped: 'idle', terminated: 'idle', 'not-applicable': 'idle', impaired: 'bad', warm: 'ok', 'per-request': 'idle' };
  const tone = (v) => (Object.prototype.hasOwnProperty.call(TONES, v) ? TONES[v] : 'idle');
  const shown = { refreshes: 0, state: undefined, error: undefined };
  window.pcloudDashboard = shown;

  // The sign-in's query never stays in the address bar (it has been used: a session cookie took over).
  if (location.search) history.replaceState(null, '', location.pathname);

  function el(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }
  function cell(content, className) {
    const td = el('td', undefined, className);
    if (content instanceof Node) td.append(content); else if (content !== undefined && content !== null) td.textContent = String(content);
    return td;
  }
  function badge(value) {
    return value === null || value === undefined ? el('span', '–', 'empty') : el('span', value, 'badge ' + tone(value));
  }
  function ago(ms) {
    if (!ms) return '–';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 86400) return Math.floor(s / 3600) + ' h';
    return Math.floor(s / 86400) + ' d';
  }
  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return n.toFixed(i ? 1 : 0) + ' ' + units[i];
  }
  function section(id, part, count) {
    const note = document.getElementById(id + '-note');
    const table = document.querySelector('#' + id + ' table');
    if (part.shown) {
      note.hidden = true;
      table.hidden = false;
    } else {
      note.hidden = false;
      note.textContent = part.reason;
      table.hidden = true;
    }
    const c = document.getElementById(id + '-count');
    if (c) c.textContent = part.shown ? '(' + count + ')' : '';
  }
  function rows(id, items, make, empty) {
    const body = document.querySelector('#' + id + ' tbody');
    if (!items.length) {
      const tr = el('tr');
      const td = cell(empty, 'empty');
      td.colSpan = document.querySelectorAll('#' + id + ' thead th').length;
      tr.append(td);
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...items.map(make));
  }

  function instanceRow(i) {
    const tr = el('tr');
    tr.dataset.id = i.id;
    tr.dataset.state = i.state;
    let consoleLink = '';
    if (i.console && INSTANCE_ID.test(i.id)) {
      consoleLink = el('a', 'Console', 'button');
      consoleLink.href = '/pcloud/dashboard/console/' + encodeURIComponent(i.id);
      consoleLink.target = '_blank';
      consoleLink.rel = 'noopener noreferrer';
    }
    tr.append(cell(i.id, 'mono'), cell(i.name, 'text'), cell(i.type), cell(i.runtime), cell(badge(i.state)), cell(badge(i.system)),
      cell(badge(i.status)), cell(i.privateIp, 'mono'), cell(i.publicIp || '–', 'mono'), cell(ago(i.launchedAt)), cell(consoleLink));
    return tr;
  }
  function functionRow(f) {
    const tr = el('tr');
    tr.dataset.name = f.name;
    tr.append(cell(f.name, 'text'), cell(f.runtime), cell(badge(f.mode)), cell(f.memoryMiB + ' MiB'), cell(f.invocations), cell(f.coldStarts),
      cell(f.lastInvokedAt ? ago(f.lastInvokedAt) + ' ago' : '–'));
    return tr;
  }
  function hostRow(h) {
    const tr = el('tr');
    tr.append(cell(h.name, 'text'), cell(h.availabilityZone), cell(badge(h.lost ? 'impaired' : h.state === 'available' ? 'ok' : h.state)),
      cell((h.runtimes || []).join(', ')), cell(h.vcpus.used + ' / ' + h.vcpus.limit), cell(bytes(h.memoryMiB.used * 1048576) + ' / ' + bytes(h.memoryMiB.limit * 1048576)),
      cell(h.instances), cell(h.heartbeatAgeSec + ' s ago'));
    return tr;
  }
  function pool(part) {
    const box = document.getElementById('pool');
    box.replaceChildren();
    if (!part.shown) return;
    if (part.unknown) { box.append(el('span', 'Storage pool: size unknown', 'empty')); return; }
    const used = part.sizeBytes - part.freeBytes;
    const bar = el('span', undefined, 'bar');
    const fill = el('span');
    fill.style.width = (part.sizeBytes ? Math.min(100, (100 * used) / part.sizeBytes) : 0).toFixed(1) + '%';
    bar.append(fill);
    box.append(el('span', 'Storage pool'), bar, el('span', bytes(used) + ' used of ' + bytes(part.sizeBytes) + ' (' + bytes(part.freeBytes) + ' free)'));
  }

  function render(s) {
    document.getElementById('who').textContent = 'account ' + s.account + ' · ' + s.principal;
    section('instances', s.instances, s.instances.shown ? s.instances.items.length + (s.instances.more ? '+' : '') : 0);
    if (s.instances.shown) rows('instances', s.instances.items, instanceRow, 'No instances.');
    section('functions', s.functions, s.functions.shown ? s.functions.items.length : 0);
    if (s.functions.shown) rows('functions', s.functions.items, functionRow, 'No functions.');
    section('hosts', s.hosts, 0);
    if (s.hosts.shown) rows('hosts', s.hosts.items, hostRow, 'No hosts.');
    pool(s.pool);
  }

  const live = document.getElementById('live');
  let timer;
  async function refresh() {
    if (document.hidden && shown.state) return;
    let res;
    try {
      res = await fetch('/pcloud/dashboard/state', { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json' } });
    } catch (e) {
      live.textContent = 'server unreachable';
      live.className = 'live bad';
      shown.error = 'unreachable';
      return;
    }
    if (res.status === 401) {
      clearInterval(timer);
      live.textContent = 'session ended: open a new URL from pcloud dashboard';
      live.className = 'live bad';
      shown.error = 'session';
      return;
    }
    if (!res.ok) {
      live.textContent = 'error ' + res.status;
      live.className = 'live bad';
      shown.error = String(res.status);
      return;
    }
    const s = await res.json();
    render(s);
    shown.state = s;
    shown.error = undefined;
    shown.refreshes++;
    live.textContent = 'live · ' + new Date(s.at).toLocaleTimeString();
    live.className = 'live ok';
  }
  document.addEventListener('DOMContentLoaded', () => {
    void refresh();
    timer = setInterval(() => void refresh(), EVERY_MS);
  });
})();
`;
