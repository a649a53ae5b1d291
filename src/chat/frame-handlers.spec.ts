import { ArgumentsHost, Catch, type ArgumentMetadata, type CanActivate, type ExceptionFilter, type PipeTransform, UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { ChatGateway } from './chat.gateway.js';
import { compileFrameHandlers, messagesOf, type Resolve } from './frame-handlers.js';

const calls: string[] = [];

class Tag implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    calls.push(`class pipe ${metadata.type}`);
    return metadata.type === 'body' ? { ...(value as object), tagged: true } : value;
  }
}

class AsyncUpper implements PipeTransform {
  async transform(value: unknown): Promise<unknown> {
    calls.push('param pipe');
    const frame = value as { text?: string };
    return { ...frame, text: frame.text?.toUpperCase() };
  }
}

class Recorder implements ExceptionFilter {
  caught: Array<{ error: unknown; client: unknown; data: unknown; type: string }> = [];

  catch(error: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    this.caught.push({ error, client: ws.getClient(), data: ws.getData(), type: host.getType() });
  }
}

class OnlySome extends Error {}

@Catch(OnlySome)
class Choosy implements ExceptionFilter {
  catch(): void {}
}

class Deny implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

@UseFilters(Recorder)
@UsePipes(Tag)
class Gateway {
  @SubscribeMessage('echo')
  echo(@ConnectedSocket() socket: WebSocket, @MessageBody(AsyncUpper) frame: { text: string }): unknown {
    calls.push('handler');
    return { socket, frame };
  }

  @SubscribeMessage('fail')
  async fail(@MessageBody() frame: object): Promise<never> {
    throw new Error(`failed on ${JSON.stringify(frame)}`);
  }

  @SubscribeMessage('guarded')
  @UseGuards(Deny)
  guarded(): string {
    return 'should not be compiled';
  }

  @SubscribeMessage('field')
  field(@MessageBody('text') text: string): string {
    return text;
  }

  @SubscribeMessage('choosy')
  @UseFilters(Choosy)
  choosy(): string {
    return 'two filters';
  }
}

describe(compileFrameHandlers.name, () => {
  const recorder = new Recorder();
  const instances = new Map<unknown, unknown>([
    [Tag, new Tag()],
    [AsyncUpper, new AsyncUpper()],
    [Recorder, recorder],
    [Choosy, new Choosy()],
    [Deny, new Deny()],
  ]);
  const resolve: Resolve = (type) => instances.get(type);
  const socket = { fake: 'socket' } as unknown as WebSocket;
  const callers = compileFrameHandlers(new Gateway(), resolve);

  beforeEach(() => {
    calls.length = 0;
    recorder.caught.length = 0;
  });

  it('passes the socket and the frame through the class pipes, then the parameter pipes, as Nest does', async () => {
    const answer = await callers.get('echo')!(socket, { type: 'echo', text: 'hi' }, 'echo');

    expect(answer).toEqual({ socket, frame: { type: 'echo', text: 'HI', tagged: true } });
    // Each parameter's pipes in order (class, then parameter), all before the handler.
    expect(calls.filter((call) => call !== 'class pipe custom')).toEqual(['class pipe body', 'param pipe', 'handler']);
    expect(calls.indexOf('class pipe custom')).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf('class pipe custom')).toBeLessThan(calls.indexOf('handler'));
  });

  it("hands a handler's failure to the exception filter with the socket and the frame, and answers nothing", async () => {
    const frame = { type: 'fail' };

    expect(await callers.get('fail')!(socket, frame, 'fail')).toBeUndefined();

    expect(recorder.caught).toEqual([{ error: expect.any(Error), client: socket, data: frame, type: 'ws' }]);
  });

  it("leaves to Nest a handler with a guard, a body field, or a filter for chosen exceptions", () => {
    expect([...callers.keys()].sort()).toEqual(['echo', 'fail']);
    expect(messagesOf(new Gateway()).sort()).toEqual(['choosy', 'echo', 'fail', 'field', 'guarded']);
  });

  it("compiles every ChatGateway handler, so no frame takes Nest's per-frame pipeline", () => {
    const gateway = Object.create(ChatGateway.prototype) as object;
    const any: Resolve = (type) => Object.create((type as { prototype: object }).prototype) as unknown;

    expect([...compileFrameHandlers(gateway, any).keys()].sort()).toEqual(messagesOf(gateway).sort());
  });
});
