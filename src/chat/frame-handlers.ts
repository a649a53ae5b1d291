import type { ArgumentMetadata, ExceptionFilter, PipeTransform, Type } from '@nestjs/common';
import {
  CUSTOM_ROUTE_ARGS_METADATA,
  EXCEPTION_FILTERS_METADATA,
  FILTER_CATCH_EXCEPTIONS,
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
  PARAMTYPES_METADATA,
  PIPES_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants.js';
import { ExecutionContextHost } from '@nestjs/core/internal';
import { WsParamtype } from '@nestjs/websockets/enums/ws-paramtype.enum.js';
import { MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import type { WebSocket } from 'ws';

/** Calls one frame handler: the frame's answer, or undefined once the exception filter has answered a failure. */
export type FrameCaller = (socket: WebSocket, frame: object, pattern: string) => Promise<unknown>;

/** Finds the instance Nest made of an enhancer class (a pipe, a filter); undefined if it has none. */
export type Resolve = (type: Type<unknown>) => unknown;

interface Param {
  index: number;
  fromSocket: boolean;
  pipes: PipeTransform[];
  metadata: ArgumentMetadata;
}

/**
 * One caller per `@SubscribeMessage` handler of `gateway`, by message,
 * built once from the gateway's metadata. It does what Nest's WebSocket
 * context does for such a handler (parameters from `@ConnectedSocket` and
 * `@MessageBody`, the class's and method's pipes, then the parameter's, in
 * Nest's order, the exception filter) as plain calls: a frame costs one
 * promise instead of an Observable, an interceptor chain and promises per
 * parameter and pipe.
 *
 * A handler that uses anything else (guards, interceptors, other parameter
 * decorators, more than one filter, or a filter for chosen exceptions) gets
 * no caller, and keeps Nest's callback.
 */
export function compileFrameHandlers(gateway: object, resolve: Resolve): Map<string, FrameCaller> {
  const callers = new Map<string, FrameCaller>();
  for (const { message, name, method } of handlersOf(gateway)) {
    const caller = compile(gateway, name, method, resolve);
    if (caller) callers.set(message, caller);
  }
  return callers;
}

/** The messages `gateway` has `@SubscribeMessage` handlers for. */
export function messagesOf(gateway: object): string[] {
  return handlersOf(gateway).map((handler) => handler.message);
}

function handlersOf(gateway: object): Array<{ message: string; name: string; method: (...args: unknown[]) => unknown }> {
  const prototype = Object.getPrototypeOf(gateway) as Record<string, unknown>;
  const handlers = [];
  for (const name of Object.getOwnPropertyNames(prototype)) {
    const method = prototype[name];
    if (typeof method !== 'function') continue;
    const message: unknown = Reflect.getMetadata(MESSAGE_METADATA, method);
    if (typeof message === 'string') handlers.push({ message, name, method: method as (...args: unknown[]) => unknown });
  }
  return handlers;
}

function compile(gateway: object, name: string, method: (...args: unknown[]) => unknown, resolve: Resolve): FrameCaller | undefined {
  const type = gateway.constructor;
  const both = (key: string): unknown[] => [
    ...((Reflect.getMetadata(key, type) as unknown[] | undefined) ?? []),
    ...((Reflect.getMetadata(key, method) as unknown[] | undefined) ?? []),
  ];
  if (both(GUARDS_METADATA).length > 0 || both(INTERCEPTORS_METADATA).length > 0) return undefined;

  const filters = both(EXCEPTION_FILTERS_METADATA);
  if (filters.length !== 1) return undefined;
  const filter = enhancer<ExceptionFilter>(filters[0], resolve);
  const catches = filter && (Reflect.getMetadata(FILTER_CATCH_EXCEPTIONS, filter.constructor) as unknown[] | undefined);
  if (!filter || (catches && catches.length > 0)) return undefined;

  const common = both(PIPES_METADATA).map((pipe) => enhancer<PipeTransform>(pipe, resolve));
  if (common.some((pipe) => pipe === undefined)) return undefined;
  const paramtypes = (Reflect.getMetadata(PARAMTYPES_METADATA, gateway, name) as Array<Type<unknown>> | undefined) ?? [];
  const declared = (Reflect.getMetadata(ROUTE_ARGS_METADATA, type, name) ?? {}) as Record<
    string,
    { index: number; data?: unknown; pipes?: unknown[] }
  >;
  const params: Param[] = [];
  for (const [key, { index, data, pipes = [] }] of Object.entries(declared)) {
    const paramtype = Number(key.split(':')[0]);
    if (key.includes(CUSTOM_ROUTE_ARGS_METADATA) || data !== undefined) return undefined;
    if (paramtype !== WsParamtype.SOCKET && paramtype !== WsParamtype.PAYLOAD) return undefined;
    const own = pipes.map((pipe) => enhancer<PipeTransform>(pipe, resolve));
    if (own.some((pipe) => pipe === undefined)) return undefined;
    params.push({
      index,
      fromSocket: paramtype === WsParamtype.SOCKET,
      pipes: [...common, ...own] as PipeTransform[],
      // As Nest's pipes consumer names them: the socket is a `custom` parameter, the frame the `body`.
      metadata: { type: paramtype === WsParamtype.SOCKET ? 'custom' : 'body', metatype: paramtypes[index], data: undefined },
    });
  }
  const count = Math.max(0, ...params.map((param) => param.index + 1));

  return async (socket, frame, pattern) => {
    try {
      const args: unknown[] = new Array(count);
      // Indexed loops: every frame runs them, and for-of over these arrays stays an iterator call.
      for (let p = 0; p < params.length; p++) {
        const param = params[p];
        let value: unknown = param.fromSocket ? socket : frame;
        for (let i = 0; i < param.pipes.length; i++) {
          const out: unknown = param.pipes[i].transform(value, param.metadata);
          value = out instanceof Promise ? await out : out;
        }
        args[param.index] = value;
      }
      return await method.apply(gateway, args);
    } catch (error) {
      const host = new ExecutionContextHost([socket, frame, pattern], type as Type<unknown>, method);
      host.setType('ws');
      filter.catch(error, host);
      return undefined;
    }
  };
}

/** An enhancer given as an instance, or as a class Nest has made one of. */
function enhancer<T>(given: unknown, resolve: Resolve): T | undefined {
  if (typeof given !== 'function') return given as T;
  try {
    return (resolve(given as Type<unknown>) as T | undefined) ?? undefined;
  } catch {
    return undefined;
  }
}
