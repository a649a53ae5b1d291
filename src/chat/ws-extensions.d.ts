// ws exports its extension-header parser and its permessage-deflate negotiation; @types/ws declares neither.
import type { PerMessageDeflateOptions } from 'ws';

declare module 'ws' {
  /** One offer's parameters: each name with its values (`true` for a parameter without one). */
  type ExtensionParams = Record<string, Array<string | true>>;

  const extension: {
    parse(header: string): Record<string, ExtensionParams[]>;
    format(extensions: Record<string, ExtensionParams[]>): string;
  };

  class PerMessageDeflate {
    static readonly extensionName: string;
    constructor(options?: PerMessageDeflateOptions & { isServer?: boolean; maxPayload?: number });
    /** Throws when none of the offers can be accepted, or one of them is invalid. */
    accept(offers: ExtensionParams[]): object;
  }
}
