declare module 'unix-dgram' {
  import { EventEmitter } from 'node:events';
  interface UnixDgramSocket extends EventEmitter {
    bind(path: string): void;
    close(): void;
    send(buf: Buffer, offset?: number, length?: number, path?: string, cb?: (err?: Error) => void): void;
  }
  function createSocket(type: 'unix_dgram', listener?: (msg: Buffer) => void): UnixDgramSocket;
  const _default: { createSocket: typeof createSocket };
  export default _default;
}
