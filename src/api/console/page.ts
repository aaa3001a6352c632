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
const rfb = new RFB(document.getElementById('screen'), url.href, { wsProtocols: ['binary'] });
rfb.scaleViewport = true;
window.pcloudConsole = { state: 'connecting', instanceId: ${json(instanceId)} };
rfb.addEventListener('connect', () => { status.textContent = 'connected'; window.pcloudConsole.state = 'connected'; });
rfb.addEventListener('disconnect', (e) => {
  const how = e.detail.clean ? 'disconnected' : 'connection lost';
  status.textContent = how; window.pcloudConsole.state = how;
});
rfb.addEventListener('desktopname', (e) => { document.title = e.detail.name + ' · ' + ${json(instanceId)}; });
</script>
</body>
</html>
`;
}
