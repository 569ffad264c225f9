// CRC-32 (IEEE 802.3, the zlib/PNG polynomial), slicing-by-8: eight table lookups per 8 bytes
// instead of one per byte, since every frame the aggregator receives is checksummed in full.
// TABLE[k·256 + b] is the CRC of byte b followed by k zero bytes.
const TABLE = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = t[(k - 1) * 256 + n]!;
      t[k * 256 + n] = (t[prev & 0xff]! ^ (prev >>> 8)) >>> 0;
    }
  }
  return t;
})();

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = TABLE[1792 + (c & 0xff)]! ^ TABLE[1536 + ((c >>> 8) & 0xff)]! ^ TABLE[1280 + ((c >>> 16) & 0xff)]! ^ TABLE[1024 + (c >>> 24)]!
      ^ TABLE[768 + bytes[i + 4]!]! ^ TABLE[512 + bytes[i + 5]!]! ^ TABLE[256 + bytes[i + 6]!]! ^ TABLE[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
