// Client credentials: one bearer token per client, from a file the operator writes. A token names
// its client, so a client that restarts (or an aggregator that restarts) keeps its identity. The
// operator may also bound each client's aggregation weight (the sample count it may claim).
import { InvalidArgumentError } from '../errors.ts';

/** Shorter tokens can be guessed by anyone who can reach the port. */
export const MIN_TOKEN_LENGTH = 16;

/** A client's token and, optionally, the most samples its updates may be weighted with. */
export interface TokenEntry {
  token: string;
  maxSamples?: number;
}

interface Stored { name: string; token: Uint8Array; maxSamples: number | undefined }

export class TokenSet {
  readonly #byName = new Map<string, Stored>();
  /** Buckets by a keyed hash of the token: lookups cost the same with 10 clients or 100,000. */
  readonly #buckets = new Map<number, Stored[]>();
  readonly #key: Uint32Array;

  /** `tokens`: client name → token, or → { token, maxSamples }. */
  constructor(tokens: ReadonlyMap<string, string | TokenEntry> | Record<string, string | TokenEntry>) {
    const pairs = tokens instanceof Map ? [...tokens] : Object.entries(tokens);
    if (pairs.length === 0) throw new InvalidArgumentError('tokens: at least one client token is needed');
    // A secret per process, so nobody outside can tell which tokens share a bucket.
    this.#key = globalThis.crypto.getRandomValues(new Uint32Array(2));
    const seen = new Set<string>();
    const encoder = new TextEncoder();
    for (const [name, value] of pairs) {
      const { token, maxSamples } = typeof value === 'string' ? { token: value, maxSamples: undefined } : (value ?? {}) as TokenEntry;
      if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH) throw new InvalidArgumentError(`tokens: the token of '${name}' must be a string of at least ${MIN_TOKEN_LENGTH} characters`);
      if (!/^[\x21-\x7e]+$/.test(token)) throw new InvalidArgumentError(`tokens: the token of '${name}' must be printable ASCII without spaces (it travels in an HTTP header)`);
      if (seen.has(token)) throw new InvalidArgumentError(`tokens: '${name}' reuses another client's token; every client needs its own`);
      if (maxSamples !== undefined && !(Number.isSafeInteger(maxSamples) && maxSamples >= 1)) {
        throw new InvalidArgumentError(`tokens: the sample limit of '${name}' must be a positive integer, got ${String(maxSamples)}`);
      }
      seen.add(token);
      const stored: Stored = { name, token: encoder.encode(token), maxSamples };
      this.#byName.set(name, stored);
      const h = this.#hash(stored.token);
      const bucket = this.#buckets.get(h);
      if (bucket) bucket.push(stored);
      else this.#buckets.set(h, [stored]);
    }
  }

  get size(): number {
    return this.#byName.size;
  }

  /**
   * The client name a presented token belongs to, or undefined. The tokens of its bucket (almost
   * always one) are compared in full whatever matches, so the time taken says nothing about how
   * close a guess was; which bucket a guess lands in depends on the secret key.
   */
  lookup(presented: string): string | undefined {
    const bytes = new TextEncoder().encode(presented);
    let found: string | undefined;
    for (const { name, token } of this.#buckets.get(this.#hash(bytes)) ?? []) {
      let diff = token.length ^ bytes.length;
      for (let i = 0; i < token.length; i++) diff |= token[i]! ^ (bytes[i] ?? 0);
      if (diff === 0) found = name;
    }
    return found;
  }

  /** The operator's bound on client `name`'s sample count, if the tokens file gives one. */
  maxSamples(name: string): number | undefined {
    return this.#byName.get(name)?.maxSamples;
  }

  /** FNV-1a from a secret offset, then a keyed finalizer (murmur3's), as a 32-bit bucket number. */
  #hash(bytes: Uint8Array): number {
    let h = this.#key[0]! ^ 0x811c9dc5;
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
    h ^= this.#key[1]!;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }
}

/**
 * Parses a tokens file: JSON — an object {name: token} or {name: {token, maxSamples}}, or an array
 * of tokens — or plain text with one client per line, `<token>` or `<token> <max-samples>` (blank
 * lines and lines starting with '#' ignored). Unnamed tokens are named client-1, client-2, … in
 * file order.
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
    if (parsed && typeof parsed === 'object') return new TokenSet(parsed as Record<string, string | TokenEntry>);
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  return new TokenSet(new Map(lines.map((line, i): [string, TokenEntry] => {
    const [token, limit, ...rest] = line.split(/\s+/);
    if (rest.length || (limit !== undefined && !/^\d{1,15}$/.test(limit))) {
      throw new InvalidArgumentError(`tokens file, line of client-${i + 1}: expected '<token>' or '<token> <max-samples>'`);
    }
    return [`client-${i + 1}`, { token: token!, maxSamples: limit === undefined ? undefined : Number(limit) }];
  })));
}
