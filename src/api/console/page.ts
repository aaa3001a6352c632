/** How often the page connects again after a lost connection before it says so (1 s, 2 s, ... apart). */
const RECONNECTS = 5;

/** The console page: noVNC (from npm, served under /pcloud/novnc/) on the instance's websocket, scaled to the window. */
export function consolePage(instanceId: string, websocketPath: string, rfbPath = '/pcloud/novnc/core/rfb.js'): string {
  const json = (v: string) => JSON.stringify(v).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${instanceId} console · pcloud</title>
<style>
  html, body { margin: 0; height: 100%; background: #1e1e1e; color: #ddd; font: 14px system-ui, sans-serif; }
  #bar { height: 28px; line-height: 28px; padding: 0 10px; background: #2d2d2d; }
  #screen { height: calc(100% - 28px); }
</style>
</head>
<body>
<div id="bar">${instanceId} · <span id="status">connecting…</span></div>
<div id="screen"></div>
<script type="module">
import RFB from '${rfbPath}';
const url = new URL(${json(websocketPath)}, location.href);
url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
const status = document.getElementById('status');
window.pcloudConsole = { state: 'connecting', instanceId: ${json(instanceId)} };
const show = (state, text) => { status.textContent = text ?? state; window.pcloudConsole.state = state; };
// A connection lost (the display not up yet, a VM rebooting, a network blip) is tried again a few times, each a little
// later; one closed cleanly (the VM's end) is not.
let lost = 0;
function connect() {
  const rfb = new RFB(document.getElementById('screen'), url.href, { wsProtocols: ['binary'] });
  rfb.scaleViewport = true;
  rfb.addEventListener('connect', () => { lost = 0; show('connected'); });
  rfb.addEventListener('disconnect', (e) => {
    if (e.detail.clean || lost >= ${RECONNECTS}) return show(e.detail.clean ? 'disconnected' : 'connection lost');
    lost++;
    show('connecting', 'connection lost: connecting again…');
    setTimeout(connect, 1000 * lost);
  });
  rfb.addEventListener('desktopname', (e) => { document.title = e.detail.name + ' · ' + ${json(instanceId)}; });
}
connect();
</script>
</body>
</html>
`;
}
