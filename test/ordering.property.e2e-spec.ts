import fc from 'fast-check';
import { join, messagesUntil, range, received, sendMany, seqs } from './support/client.js';
import { type Mode, UNTHROTTLED, useInstances } from './support/instances.js';
import { createRoom, fullHistory, post } from './support/rest.js';
import { token } from './support/tokens.js';
import { TestClient } from './support/ws-client.js';

const INSTANCES = 3;
const CLIENTS_PER_INSTANCE = 2;
const SLOTS = INSTANCES * CLIENTS_PER_INSTANCE;
const USERS = ['u0', 'u1', 'u2', 'u3'];

type Action = { kind: 'send'; count: number } | { kind: 'reconnect'; to: number } | { kind: 'drop' } | { kind: 'idle' };
interface Step {
  actions: Action[];
  rest: { on: number; count: number } | null;
}

/** One connection of a user over time: a socket per (re)connect, all in the same room. */
interface Slot {
  user: string;
  epoch: string;
  client: TestClient | undefined;
  sockets: TestClient[];
}

const instance = fc.nat(INSTANCES - 1);
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), count: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reconnect' as const), to: instance }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'drop' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'idle' as const }) },
);
const step: fc.Arbitrary<Step> = fc.record({
  actions: fc.array(action, { minLength: SLOTS, maxLength: SLOTS }),
  rest: fc.option(fc.record({ on: instance, count: fc.integer({ min: 1, max: 3 }) })),
});
const scenario = fc.array(step, { minLength: 1, maxLength: 8 });

describe.each<Mode>(['redis', 'cluster'])('message order across instances (property) (%s)', (mode) => {
  const { all: apps } = useInstances({ mode, count: INSTANCES, env: UNTHROTTLED });

  async function play(steps: Step[]): Promise<void> {
    const roomId = await createRoom(apps[0].http, USERS[0], USERS.slice(1));
    const slots: Slot[] = [];
    const seen = (slot: Slot) => slot.sockets.flatMap(received);

    const open = async (slot: Slot, to: number) => {
      const client = await TestClient.connect(apps[to].ws, token(slot.user));
      slot.client = client;
      slot.sockets.push(client);
      return client;
    };
    const reconnect = async (slot: Slot, to: number) => {
      await slot.client?.close();
      const since = { seq: seen(slot).at(-1)?.seq ?? 0, epoch: slot.epoch };
      const joined = await join(await open(slot, to), roomId, since);
      expect(joined).toMatchObject({ epoch: slot.epoch, recovered: true });
      expect(joined.seq).toBeGreaterThanOrEqual(since.seq);
    };
    const act = async (slot: Slot, todo: Action, index: number) => {
      if (todo.kind === 'reconnect') return reconnect(slot, todo.to);
      if (!slot.client) return;
      if (todo.kind === 'send') await sendMany(slot.client, roomId, todo.count, `s${index}`);
      if (todo.kind === 'drop') {
        await slot.client.close();
        slot.client = undefined;
      }
    };
    const restSend = async ({ on, count }: { on: number; count: number }) => {
      for (let i = 0; i < count; i++) await post(apps[on].http, roomId, USERS[0], `rest-${on}-${i}`);
    };

    try {
      for (let i = 0; i < SLOTS; i++) {
        const slot: Slot = { user: USERS[i % USERS.length], epoch: '', client: undefined, sockets: [] };
        slots.push(slot);
        const joined = await join(await open(slot, i % INSTANCES), roomId);
        expect(joined).toMatchObject({ seq: 0, recovered: false });
        slot.epoch = joined.epoch as string;
      }
      for (const { actions, rest } of steps) {
        await Promise.all([...slots.map((slot, i) => act(slot, actions[i], i)), rest && restSend(rest)]);
      }
      for (const [i, slot] of slots.entries()) if (!slot.client) await reconnect(slot, i % INSTANCES);

      const history = await fullHistory(apps[0].http, roomId, USERS[0]);
      const head = history.length;
      expect(seqs(history)).toEqual(range(1, head));
      await Promise.all(
        slots.map(async (slot) => {
          const client = slot.client as TestClient;
          if ((seen(slot).at(-1)?.seq ?? 0) < head) await messagesUntil(client, head);
          client.take('message');
          await client.nothing(100, 'message');
        }),
      );
      for (const slot of slots) {
        for (const socket of slot.sockets) {
          const messageAt = socket.frames.findIndex((frame) => frame.type === 'message');
          if (messageAt >= 0) expect(socket.frames.findIndex((frame) => frame.type === 'joined')).toBeLessThan(messageAt);
        }
        expect(seqs(seen(slot))).toEqual(range(1, head));
        expect(seen(slot)).toEqual(history);
      }
    } finally {
      await Promise.all(slots.flatMap((slot) => slot.sockets).map((socket) => socket.close()));
    }
  }

  it('every client sees exactly the room history, in seq order, through sends, drops and reconnects with since', async () => {
    // Fewer runs on the cluster: the same code paths, a second topology, a bounded suite time.
    const runs = mode === 'cluster' ? { numRuns: 15, interruptAfterTimeLimit: 20_000 } : { numRuns: 40, interruptAfterTimeLimit: 40_000 };
    await fc.assert(fc.asyncProperty(scenario, play), runs);
  }, 60_000);
});
