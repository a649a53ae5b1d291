#!/usr/bin/env node
// A tiny terminal chat client for trying the service by hand:
//   npm run chat -- <token> <room_id> [ws_url]
// Lines you type are sent as messages; /typing and /leave do what they say;
// every frame from the server is printed as it arrives.
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const [token, roomId, url = 'ws://localhost:8000/api/v1/chats/ws'] = process.argv.slice(2);
if (!token || !roomId) {
  console.error('usage: npm run chat -- <token> <room_id> [ws_url]');
  process.exit(2);
}

const socket = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
// Typed lines wait until the room is joined.
let pending = [];
const send = (frame) => (pending ? pending.push(frame) : socket.send(JSON.stringify(frame)));

socket.on('unexpected-response', (_req, res) => {
  let body = '';
  res.on('data', (chunk) => (body += chunk));
  res.on('end', () => {
    console.error(`refused: HTTP ${res.statusCode} ${body}`);
    process.exit(1);
  });
});
socket.on('error', (error) => console.error(`error: ${error.message}`));
socket.on('close', (code, reason) => {
  console.log(`closed: ${code} ${reason}`);
  process.exit(0);
});
socket.on('message', (data) => {
  const frame = JSON.parse(data.toString());
  if (frame.type === 'connected') socket.send(JSON.stringify({ type: 'join_room', room_id: roomId }));
  if (frame.type === 'joined' && pending) {
    const queued = pending;
    pending = undefined;
    queued.forEach(send);
  }
  if (frame.type === 'message') console.log(`<${frame.message.sender_id}> ${frame.message.content}`);
  else console.log(JSON.stringify(frame));
});

const keepAlive = setInterval(() => socket.readyState === WebSocket.OPEN && send({ type: 'ping' }), 5000);
const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line === '/typing') send({ type: 'typing', room_id: roomId });
  else if (line === '/leave') send({ type: 'leave_room', room_id: roomId });
  else if (line.trim()) send({ type: 'send_message', room_id: roomId, content: line });
});
input.on('close', () => {
  clearInterval(keepAlive);
  setTimeout(() => socket.close(1000), 500);
});
