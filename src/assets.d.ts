// Build-time assets (see scripts/asset-plugin.mjs): WGSL sources become strings, the wasm module
// becomes the URL of the file shipped next to the bundle.
declare module '*.wgsl' {
  const source: string;
  export default source;
}
declare module '*.wasm' {
  const url: URL;
  export default url;
}
declare module 'feddip:worker-url' {
  const url: URL;
  export default url;
}
declare module 'feddip:kernel-worker-url' {
  const url: URL;
  export default url;
}
declare module 'feddip:dashboard-url' {
  const url: URL;
  export default url;
}
