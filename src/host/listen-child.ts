/**
 * Helper run inside a network namespace (`ip netns exec NS node listen-child.js HOST PORT`): binds a TCP listening
 * socket there and hands it to the parent over the IPC channel, then exits. The parent accepts on it from its own
 * namespace: a socket keeps the namespace it was made in.
 */
import { createServer } from 'node:net';

const [host, port] = process.argv.slice(2);
const server = createServer();
server.on('error', (err) => {
  process.send?.({ error: err.message }, undefined, {}, () => process.exit(1));
});
server.listen({ host, port: Number(port), exclusive: true }, () => {
  process.send?.({ listening: `${host}:${port}` }, server, {}, () => process.exit(0));
});
