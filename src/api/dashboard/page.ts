/**
 * The dashboard's page, its style and the page shown without a session. None of them holds data: the page's script
 * (script.ts, its own route, so no inline script is needed and the Content-Security-Policy forbids any) reads the
 * state as JSON and builds the tables with textContent, so a Name tag or a function's name is only ever text.
 */

/** Text as HTML text or a quoted attribute value. */
export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>pcloud dashboard</title>
<link rel="stylesheet" href="/pcloud/dashboard/app.css">
<script src="/pcloud/dashboard/app.js" defer></script>
</head>
<body>
<header>
  <h1>pcloud</h1>
  <div id="who">…</div>
  <div id="live" class="live">connecting…</div>
</header>
<main>
  <section id="instances">
    <h2>Instances <span class="count" id="instances-count"></span></h2>
    <p class="note" id="instances-note" hidden></p>
    <table>
      <thead><tr><th>Instance</th><th>Name</th><th>Type</th><th>Runtime</th><th>State</th><th>System</th><th>Instance check</th><th>Private IP</th><th>Public IP</th><th>Age</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="functions">
    <h2>Functions <span class="count" id="functions-count"></span></h2>
    <p class="note" id="functions-note" hidden></p>
    <table>
      <thead><tr><th>Function</th><th>Runtime</th><th>Mode</th><th>Memory</th><th>Invocations</th><th>Cold starts</th><th>Last invoked</th></tr></thead>
      <tbody></tbody>
    </table>
    <p class="hint">Invocations and cold starts seen by this server since it started (Invoke and function URLs).</p>
  </section>
  <section id="hosts">
    <h2>Hosts and storage</h2>
    <p class="note" id="hosts-note" hidden></p>
    <div id="pool"></div>
    <table>
      <thead><tr><th>Host</th><th>Zone</th><th>State</th><th>Runtimes</th><th>vCPUs used</th><th>Memory used</th><th>Instances</th><th>Heartbeat</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
</body>
</html>
`;

export const DASHBOARD_STYLE = `
:root { color-scheme: light dark; --bg: #f6f7f9; --fg: #1d2330; --muted: #6b7280; --card: #fff; --line: #e3e6ea;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --idle: #6b7280; }
@media (prefers-color-scheme: dark) { :root { --bg: #14171c; --fg: #e6e9ee; --muted: #9aa3ad; --card: #1c2027; --line: #2c323b; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.4 system-ui, sans-serif; }
header { display: flex; gap: 16px; align-items: baseline; padding: 12px 20px; background: var(--card); border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 18px; }
#who { color: var(--muted); flex: 1; overflow-wrap: anywhere; }
.live { color: var(--muted); }
.live.ok::before { content: "● "; color: var(--ok); }
.live.bad::before { content: "● "; color: var(--bad); }
main { padding: 12px 20px; display: grid; gap: 16px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; overflow-x: auto; }
h2 { margin: 0 0 8px; font-size: 15px; }
.count { color: var(--muted); font-weight: normal; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.text { white-space: pre; max-width: 28em; overflow: hidden; text-overflow: ellipsis; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
.mono { font-family: ui-monospace, monospace; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; border: 1px solid currentColor; }
.badge.ok { color: var(--ok); } .badge.warn { color: var(--warn); } .badge.bad { color: var(--bad); } .badge.idle { color: var(--idle); }
.note, .hint { color: var(--muted); margin: 4px 0 8px; }
.empty { color: var(--muted); font-style: italic; }
a.button { display: inline-block; padding: 2px 10px; border-radius: 6px; border: 1px solid var(--line); color: inherit; text-decoration: none; }
a.button:hover { background: var(--bg); }
.bar { height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; width: 240px; display: inline-block; vertical-align: middle; margin: 0 8px; }
.bar > span { display: block; height: 100%; background: var(--ok); }
`;

/** A page that only says something: a heading and a message (pcloud's own words, escaped all the same). */
export function messagePage(heading: string, message: string, more = ''): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>pcloud dashboard</title>
<link rel="stylesheet" href="/pcloud/dashboard/app.css"></head>
<body><main><section>
<h2>${escapeHtml(heading)}</h2>
<p>${escapeHtml(message)}</p>${more}
</section></main></body>
</html>
`;
}

/** The page without a session: what to do. */
export const signInPage = (why: string): string => messagePage('Sign in to the pcloud dashboard', why,
  '\n<p>Open the URL that <code>pcloud dashboard</code> prints (a presigned URL, valid for a few minutes), or any SigV4-presigned GET of <code>/pcloud/dashboard</code>.</p>');
