// A reference point: an echo server on Node's `ws` (npm --prefix bench/node install).
//   node bench/servers/node_ws_echo.js [PORT]     (default 0: any free port)
// Prints "LISTENING <port>" once bound. No compression, messages up to 64 MiB.
'use strict';
const path = require('path');
const { WebSocketServer } = require(path.join(__dirname, '..', 'node', 'node_modules', 'ws'));

const wss = new WebSocketServer({
  host: '127.0.0.1', port: parseInt(process.argv[2] || '0', 10), backlog: 4096,
  perMessageDeflate: false, clientTracking: false, maxPayload: 64 * 1024 * 1024,
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log(`LISTENING ${wss.address().port}`));
process.on('SIGTERM', () => process.exit(0));
