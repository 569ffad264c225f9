// Client credentials: one bearer token per client, from a file the operator writes. A token names
// its client, so a client that restarts (or an aggregator that restarts) keeps its identity.
import { InvalidArgumentError } from '../errors.ts';

/** Shorter tokens can be guessed by anyone who can reach the port. */
export const MIN_TOKEN_LENGTH = 16;

export class TokenSet {
  readonly #entries: ReadonlyArray<readonly [name: string, token: Uint8Array]>;

  /** `tokens`: client name → token. */
  constructor(tokens: ReadonlyMap<string, string> | Record<string, string>) {
    const pairs = tokens instanceof Map ? [...tokens] : Object.entries(tokens);
    if (pairs.length === 0) throw new InvalidArgumentError('tokens: at least one client token is needed');
    const seen = new Set<string>();
    const encoder = new TextEncoder();
    for (const [name, token] of pairs) {
      if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH) throw new InvalidArgumentError(`tokens: the token of '${name}' must be a string of at least ${MIN_TOKEN_LENGTH} characters`);
      if (!/^[\x21-\x7e]+$/.test(token)) throw new InvalidArgumentError(`tokens: the token of '${name}' must be printable ASCII without spaces (it travels in an HTTP header)`);
      if (seen.has(token)) throw new InvalidArgumentError(`tokens: '${name}' reuses another client's token; every client needs its own`);
      seen.add(token);
    }
    this.#entries = pairs.map(([name, token]) => [name, encoder.encode(token)] as const);
  }

  get size(): number {
    return this.#entries.length;
  }

  /**
   * The client name a presented token belongs to, or undefined. Every stored token is compared in
   * full, whatever matches, so the time taken says nothing about how close a guess was.
   */
  lookup(presented: string): string | undefined {
    const bytes = new TextEncoder().encode(presented);
    let found: string | undefined;
    for (const [name, token] of this.#entries) {
      let diff = token.length ^ bytes.length;
      for (let i = 0; i < token.length; i++) diff |= token[i]! ^ (bytes[i] ?? 0);
      if (diff === 0) found = name;
    }
    return found;
  }
}

/**
 * Parses a tokens file: JSON — an object {name: token} or an array of tokens — or plain text with
 * one token per line (blank lines and lines starting with '#' ignored). Unnamed tokens are named
 * client-1, client-2, … in file order.
 */
export function parseTokens(text: string): TokenSet {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw new InvalidArgumentError(`tokens file: invalid JSON (${(error as Error).message})`);
    }
    if (Array.isArray(parsed)) return new TokenSet(new Map(parsed.map((t, i) => [`client-${i + 1}`, t as string])));
    if (parsed && typeof parsed === 'object') return new TokenSet(parsed as Record<string, string>);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  return new TokenSet(new Map(lines.map((t, i) => [`client-${i + 1}`, t])));
}
