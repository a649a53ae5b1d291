import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import { SignedUrls } from '../src/files/signed-urls.js';
import { join as joinRoom } from './support/client.js';
import { MODES, useInstances } from './support/instances.js';
import { logs } from './support/logs.js';
import { PNG, bearer, useUploadDir } from './support/rest.js';
import { token } from './support/tokens.js';

/** The PNG above with an animation control chunk (`acTL`): what a sniffer calls an animated PNG. */
const APNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAACGFjVEwAAAABAAAAALQt6aAAAAANSURBVHjaY2Rg+F8PAAKHAYDrR7qSAAAAAElFTkSuQmCC',
  'base64',
);

const API = '/api/v1/chats';
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
const MAX_BYTES = 64 * 1024;

interface Uploaded {
  uploaded: number;
  files: Array<{ path: string; url: string }>;
}

/** Every file under `dir`, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** Writes `head` to the server at `url` over a raw socket, reads until `readBytes` have come back (0: none), then goes away. */
function goAwayAfter(url: string, head: string | Buffer, readBytes = 0): Promise<void> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    let read = 0;
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(head);
      if (readBytes === 0) setTimeout(() => socket.destroy(), 200);
    });
    socket.on('data', (chunk) => {
      read += chunk.length;
      if (read >= readBytes) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

describe.each(MODES)('uploads and signed file URLs (PROTOCOL §5), %s', (mode) => {
  const uploads = useUploadDir();
  const dir = uploads.path;
  const chat = useInstances({ mode, env: async () => ({ ...(await uploads.env()), UPLOAD_MAX_FILE_BYTES: MAX_BYTES, UPLOAD_MAX_FILES: 3 }) });
  const upload = (user: string, roomId: string, http = chat.http) => request(http).post(`${API}/rooms/${roomId}/upload`).set(...bearer(user));

  it('stores what a member uploads and serves it at its signed URL, from any instance, to an <img> without a token', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const answer = await upload('bob', roomId).attach('files', PNG, 'photo.png').attach('files', PDF, 'notes.pdf').expect(201);
    const body = answer.body as Uploaded;
    expect(body.uploaded).toBe(2);
    expect(body.files.map((f) => f.path)).toEqual([
      expect.stringMatching(new RegExp(`^rooms/${roomId}/[0-9a-f-]{36}\\.png$`)),
      expect.stringMatching(new RegExp(`^rooms/${roomId}/[0-9a-f-]{36}\\.pdf$`)),
    ]);
    for (const file of body.files) expect(file.url).toMatch(new RegExp(`^${API}/files/${file.path}\\?expires=\\d+&signature=[0-9a-f]{64}$`));

    const image = await request(chat.last.http).get(body.files[0].url).buffer(true).expect(200);
    expect(image.headers['content-type']).toBe('image/png');
    expect(image.headers['x-content-type-options']).toBe('nosniff');
    expect(image.headers['content-disposition']).toMatch(/^inline; filename="[0-9a-f-]{36}\.png"$/);
    expect(Buffer.from(image.body as Buffer)).toEqual(PNG);
    const pdf = await request(chat.http).get(body.files[1].url).buffer(true).expect(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.headers['content-disposition']).toMatch(/^attachment; /);
    expect((await filesUnder(dir())).sort()).toEqual(body.files.map((f) => f.path).sort());

    // The message that shares them keeps the file: its link, signed when handed out.
    const sent = await request(chat.http).post(`${API}/rooms/${roomId}/messages`).set(...bearer('bob'))
      .send({ content: 'photo', message_type: 'image', attachments: [body.files[0].url] }).expect(201);
    expect(sent.body.attachments).toEqual([expect.stringMatching(new RegExp(`^${API}/files/${body.files[0].path}\\?expires=\\d+&signature=[0-9a-f]{64}$`))]);
  });

  it('hands out a message’s links to its room’s files signed afresh, live and in history, so an old message still shows its image', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const [file] = ((await upload('alice', roomId).attach('files', PNG, 'p.png').expect(201)).body as Uploaded).files;
    const urls = chat.first.app.get(SignedUrls);
    // As a link stored by an earlier version, or kept open past FILE_URL_TTL_S, would be: expired.
    const expired = urls.sign(file.path, Date.now() - 2 * 3600_000);
    await request(chat.http).get(expired).expect(403);
    const otherRoom = await chat.room('alice', []);
    const foreign = urls.sign(`rooms/${otherRoom}/${file.path.split('/')[2]}`, Date.now() - 2 * 3600_000);

    const bob = await chat.connect('bob', chat.last);
    await joinRoom(bob, roomId);
    const alice = await chat.connect('alice');
    await joinRoom(alice, roomId);
    alice.send({ type: 'send_message', room_id: roomId, content: 'photo', message_type: 'image', attachments: [expired, foreign, 'https://elsewhere.example/a.png'] });
    const ack = (await alice.next('message_ack')).message as { attachments: string[] };
    const live = (await bob.next('message')).message as { attachments: string[] };
    const history = await request(chat.last.http).get(`${API}/rooms/${roomId}/messages`).set(...bearer('bob')).expect(200);
    const [stored] = (history.body as { messages: Array<{ attachments: string[] }> }).messages;
    for (const handedOut of [ack, live, stored]) {
      expect(handedOut.attachments.slice(1)).toEqual([foreign, 'https://elsewhere.example/a.png']);
      expect(handedOut.attachments[0].split('?')[0]).toBe(`${API}/files/${file.path}`);
      const image = await request(chat.http).get(handedOut.attachments[0]).buffer(true).expect(200);
      expect(Buffer.from(image.body as Buffer)).toEqual(PNG);
    }
    // Another room's file is not made reachable by mentioning it here.
    await request(chat.http).get(stored.attachments[1]).expect(403);
  });

  it('logs no error when a client goes away in the middle of an upload or a download, keeps nothing of the upload, and serves on', async () => {
    const roomId = await chat.room('alice', []);
    const before = await filesUnder(dir());
    logs.clear();
    const part = `--B\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`;
    for (const framing of ['Content-Length: 100000', 'Transfer-Encoding: chunked']) {
      const body = framing.startsWith('Content') ? part : `${part.length.toString(16)}\r\n${part}\r\nzz\r\n`;
      await goAwayAfter(
        chat.http,
        `POST ${API}/rooms/${roomId}/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token('alice')}\r\n` +
          `Content-Type: multipart/form-data; boundary=B\r\n${framing}\r\n\r\n${body}`,
      );
    }
    // A file larger than the sockets' buffers, read in part (as a browser cancels an image load).
    const path = `rooms/${roomId}/00000000-0000-4000-8000-000000000001.png`;
    await uploads.place(path, Buffer.concat([PNG, Buffer.alloc(16 * 1024 * 1024)]));
    const url = chat.first.app.get(SignedUrls).sign(path);
    await goAwayAfter(chat.http, `GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`, 64 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(logs.errors()).toEqual([]);
    // The upload that was cut short after its headers reached the parser, and was taken for the client's doing.
    expect(logs.take('debug', /upload cut short/).length).toBeGreaterThanOrEqual(1);
    expect((await filesUnder(dir())).sort()).toEqual([...before, path].sort());
    await upload('alice', roomId).attach('files', PNG, 'p.png').expect(201);
  });

  it('answers an upload the disk fails as the server’s error (500, logged), not as one the client cut short', async () => {
    const roomId = await chat.room('alice', []);
    const incoming = join(dir(), '.incoming');
    await rm(incoming, { recursive: true, force: true });
    await writeFile(incoming, 'not a directory');
    try {
      logs.clear();
      const answer = await upload('alice', roomId).attach('files', PNG, 'p.png');
      expect(answer.status).toBe(500);
      expect(logs.take('debug', /upload cut short/)).toEqual([]);
      expect(logs.errors().join('\n')).toMatch(/ENOTDIR/);
      logs.clear();
    } finally {
      await rm(incoming, { force: true });
      await mkdir(incoming);
    }
    await upload('alice', roomId).attach('files', PNG, 'p.png').expect(201);
  });

  it('takes an animated PNG where PNG is allowed, and serves it as what it is', async () => {
    const roomId = await chat.room('alice', ['bob']);
    const answer = await upload('bob', roomId).attach('files', APNG, 'moving.png').expect(201);
    const [file] = (answer.body as Uploaded).files;
    expect(file.path).toMatch(/\.apng$/);
    const image = await request(chat.http).get(file.url).buffer(true).expect(200);
    expect(image.headers['content-type']).toBe('image/apng');
    expect(Buffer.from(image.body as Buffer)).toEqual(APNG);
  });

  it('detects the type from the content, not the name, and keeps nothing of a refused upload', async () => {
    const roomId = await chat.room('alice', []);
    const before = await filesUnder(dir());
    const refused = await upload('alice', roomId).attach('files', PNG, 'ok.png').attach('files', Buffer.from('<script>alert(1)</script>'), 'evil.png').expect(415);
    expect(refused.body.message).toMatch(/evil\.png is not of an allowed type/);
    await upload('alice', roomId).attach('files', Buffer.from('PK\x03\x04 a zip, not an image'), 'x.gif').expect(415);
    expect(await filesUnder(dir())).toEqual(before);
    // A PNG named .txt is a PNG.
    const renamed = (await upload('alice', roomId).attach('files', PNG, 'notes.txt').expect(201)).body as Uploaded;
    expect(renamed.files[0].path).toMatch(/\.png$/);
  });

  it('refuses a file too large (413) or too many files (400) while streaming, no file, a non-member and a bad room id', async () => {
    const roomId = await chat.room('alice', []);
    const before = await filesUnder(dir());
    const big = Buffer.concat([PNG, Buffer.alloc(MAX_BYTES)]);
    await upload('alice', roomId).attach('files', big, 'big.png').expect(413);
    const many = upload('alice', roomId);
    for (let i = 0; i < 4; i++) many.attach('files', PNG, `p${i}.png`);
    expect((await many.expect(400)).body.message).toMatch(/Too many files/);
    expect((await upload('alice', roomId).field('note', 'x').expect(400)).body.message).toMatch(/at least one file/);
    await upload('mallory', roomId).attach('files', PNG, 'p.png').expect(403);
    await upload('alice', 'not-a-room').attach('files', PNG, 'p.png').expect(400);
    await request(chat.http).post(`${API}/rooms/${roomId}/upload`).attach('files', PNG, 'p.png').expect(401);
    expect(await filesUnder(dir())).toEqual(before);
  });

  it('serves nothing without a valid, unexpired signature for exactly that path, and no path but its own', async () => {
    const roomId = await chat.room('alice', []);
    const [file] = ((await upload('alice', roomId).attach('files', PNG, 'p.png').expect(201)).body as Uploaded).files;
    const [path, query] = file.url.split('?');
    const params = new URLSearchParams(query);
    const tampered = params.get('signature')!.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    await request(chat.http).get(`${path}?expires=${params.get('expires')}&signature=${tampered}`).expect(403);
    await request(chat.http).get(`${path}?expires=${Number(params.get('expires')) + 1}&signature=${params.get('signature')}`).expect(403);
    await request(chat.http).get(path).expect(403);
    const otherRoom = await chat.room('alice', []);
    await request(chat.http).get(file.url.replace(roomId, otherRoom)).expect(403);

    const urls = chat.first.app.get(SignedUrls);
    await request(chat.http).get(urls.sign(file.path, Date.now() - 2 * 3600_000)).expect(403);
    await request(chat.http).get(urls.sign(`rooms/${roomId}/00000000-0000-4000-8000-000000000000.png`)).expect(404);
    for (const name of ['..%2F..%2Fetc%2Fpasswd', '.incoming', 'x.png']) {
      await request(chat.http).get(`${API}/files/rooms/${roomId}/${name}?expires=1&signature=${'0'.repeat(64)}`).expect(404);
    }
  });
});

describe('a request body behind answers the client has not read yet', () => {
  const uploads = useUploadDir();
  const chat = useInstances({ env: async () => ({ ...(await uploads.env()), HTTP_BODY_IDLE_TIMEOUT_MS: 1000 }) });

  it('is not cut as a stalled body: the client is not stalled, Node stopped reading its connection', async () => {
    const roomId = await chat.room('alice', []);
    // A download larger than the sockets' buffers, which the client does not read for a while.
    const path = `rooms/${roomId}/00000000-0000-4000-8000-000000000002.png`;
    const file = Buffer.concat([PNG, Buffer.alloc(16 * 1024 * 1024)]);
    await uploads.place(path, file);
    const body = JSON.stringify({ room_type: 'team', room_name: 'after the download', member_ids: [] });
    const post =
      `POST ${API}/rooms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token('alice')}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const socket = connect(Number(new URL(chat.http).port), '127.0.0.1');
    socket.pause();
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`GET ${chat.first.app.get(SignedUrls).sign(path)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await sleep(500);
    // Pipelined behind the unread download, head and then its whole body.
    socket.write(post);
    await sleep(200);
    socket.write(body);
    await sleep(3000);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.on('close', resolve).resume());
    const answer = Buffer.concat(chunks);
    expect(answer.subarray(0, 15).toString()).toBe('HTTP/1.1 200 OK');
    const second = answer.subarray(answer.indexOf('\r\n\r\n') + 4 + file.length).toString();
    expect(second.split('\r\n')[0]).toBe('HTTP/1.1 201 Created');
  });
});
