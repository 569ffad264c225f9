/** First byte the runtime may hand out: everything below holds the module's static data. */
export function heapBase(): usize {
  return __heap_base;
}
