// Shared by the bench suites: a median-of-reps timer and seeded-free random inputs.
export function makeTimer(quick) {
  // Doubles the inner repeat count until one batch of calls lasts a quarter of minTime, so that
  // timer resolution and call overhead stay small against what is measured; reports the median.
  return function timed(fn, minTime = quick ? 0.05 : 0.25, reps = quick ? 3 : 5) {
    fn();
    let n = 1;
    for (;;) {
      const t = performance.now();
      for (let i = 0; i < n; i++) fn();
      if ((performance.now() - t) / 1000 >= minTime / 4) break;
      n *= 2;
    }
    const samples = [];
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      for (let i = 0; i < n; i++) fn();
      samples.push((performance.now() - t) / 1000 / n);
    }
    samples.sort((a, b) => a - b);
    return samples[Math.floor(samples.length / 2)];
  };
}

export const rand = (n) => Float32Array.from({ length: n }, () => Math.random());
